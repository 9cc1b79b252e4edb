using System.Globalization;
using Kommune.Rules.Api;
using Kommune.Rules.Model;

namespace Kommune.Rules.BuiltIn;

/// <summary>
/// Home-care fall detection with escalation (<c>fall-detection</c>, the engine's default rule). A <c>fall</c> raises a critical alert at level 1 at once; if nobody acknowledges it
/// within <c>t1</c> (wall clock, so it fires even when the sensor goes silent) it escalates to level 2, and
/// <c>t2</c> after that to level 3. An ack stops the escalation, a resolve closes the alert, and a
/// <c>resident-ok</c> from the same sensor before an ack resolves it with that reason. Further falls while the
/// alert is open update it (new evidence), never start a second chain. Bind it per area with the levels' names and
/// timeouts of that area.
/// </summary>
[Rule(RuleName)]
public sealed class FallEscalationRule : Rule
{
    /// <summary>The name a rules file binds.</summary>
    public const string RuleName = "fall-detection";

    /// <summary>The event type a resident (or carer at the door) sends to say all is well.</summary>
    public const string ResidentOk = "resident-ok";

    private const string Timer = "escalate";
    private readonly TimeSpan _t1;
    private readonly TimeSpan _t2;
    private readonly string[] _levels;

    /// <summary>
    /// Reads <c>t1</c> (default <c>"60s"</c>), <c>t2</c> (default <c>"120s"</c>), and the recipients of levels 1 to
    /// 3: <c>level1</c> (default "care team"), <c>level2</c> ("nurse on call"), <c>level3</c> ("emergency").
    /// </summary>
    /// <exception cref="RuleParameterException">A parameter is wrong; the message names it.</exception>
    public FallEscalationRule(RuleParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _t1 = parameters.GetDuration("t1", TimeSpan.FromSeconds(60));
        _t2 = parameters.GetDuration("t2", TimeSpan.FromSeconds(120));
        _levels =
        [
            parameters.GetText("level1", "care team"),
            parameters.GetText("level2", "nurse on call"),
            parameters.GetText("level3", "emergency"),
        ];
    }

    /// <summary>With the default parameters.</summary>
    public FallEscalationRule()
        : this(RuleParameters.Empty)
    {
    }

    /// <inheritdoc />
    public override IReadOnlyCollection<string> SensorTypes { get; } = [Model.SensorTypes.Fall, ResidentOk];

    /// <inheritdoc />
    public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(sensorEvent);
        var episode = context.State<string>("episode");
        var open = episode.HasValue ? context.OpenAlert(episode.Value!) : null;
        if (sensorEvent.Type == ResidentOk)
        {
            if (open is not null && open.Status != AlertStatus.Acknowledged)
            {
                context.CancelTimer(Timer);
                context.ResolveAlert(episode.Value!, $"Resident at sensor {sensorEvent.SensorId} reported OK");
                episode.Clear();
                context.State<Dictionary<string, SensorValue>>("evidence").Clear();
            }

            return;
        }

        if (open is not null)
        {
            // The same incident: new evidence, same level and status, no second chain.
            context.UpdateAlert(episode.Value!, Draft(sensorEvent.SensorId, open.Level, sensorEvent.Values), open.Status);
            return;
        }

        var incident = sensorEvent.Timestamp.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        episode.Update(incident);
        context.State<Dictionary<string, SensorValue>>("evidence").Update(new Dictionary<string, SensorValue>(sensorEvent.Values));
        context.RaiseAlert(incident, Draft(sensorEvent.SensorId, 1, sensorEvent.Values));
        context.SetProcessingTimeTimer(Timer, context.ProcessingTime + _t1);
    }

    /// <inheritdoc />
    public override void OnTimer(IRuleContext context, RuleTimer timer)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(timer);
        var episode = context.State<string>("episode");
        if (timer.Name != Timer || !episode.HasValue || context.OpenAlert(episode.Value!) is not { } open || open.Status == AlertStatus.Acknowledged)
        {
            return;
        }

        var level = Math.Min(open.Level + 1, _levels.Length);
        var evidence = context.State<Dictionary<string, SensorValue>>("evidence").Value ?? [];
        context.UpdateAlert(episode.Value!, Draft(context.Key, level, evidence), AlertStatus.Escalated);
        if (level < _levels.Length)
        {
            context.SetProcessingTimeTimer(Timer, timer.Time + _t2);
        }
    }

    /// <inheritdoc />
    public override void OnAlertCommand(IRuleContext context, string incident, AlertCommand command)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(command);
        context.CancelTimer(Timer);
        base.OnAlertCommand(context, incident, command);
        if (command.Action == AlertAction.Resolve)
        {
            context.State<string>("episode").Clear();
            context.State<Dictionary<string, SensorValue>>("evidence").Clear();
        }
    }

    private AlertDraft Draft(string sensorId, int level, IReadOnlyDictionary<string, SensorValue> evidence) =>
        new("health", "fall", AlertSeverity.Critical, $"Fall detected by sensor {sensorId}: level {level}, {_levels[level - 1]}")
        {
            Level = level,
            Evidence = evidence,
        };
}
