using System.Globalization;
using Kommune.Rules.Api;
using Kommune.Rules.Model;

namespace Kommune.Rules.BuiltIn;

/// <summary>
/// Home-care fall detection with escalation (<c>fall-detection</c>, the engine's default rule). A <c>fall</c> raises a critical <c>health/fallenPatient</c> alert (FIWARE's values) at level 1 at once; if nobody acknowledges it
/// within <c>t1</c> (wall clock, so it fires even when the sensor goes silent) it escalates to level 2, and
/// <c>t2</c> after that to level 3. An ack stops the escalation, a resolve closes the alert, and a
/// <c>resident-ok</c> from the same sensor before an ack resolves it with that reason. Further falls while the
/// alert is open update it (new evidence), never start a second chain. Each record names the level's recipients.
/// Bind it per area (the rules file's <c>areas</c>) with the levels, recipients and timeouts of that area.
/// </summary>
[Rule(RuleName)]
public sealed class FallEscalationRule : Rule
{
    /// <summary>The name a rules file binds.</summary>
    public const string RuleName = "fall-detection";

    /// <summary>The event type a resident (or carer at the door) sends to say all is well.</summary>
    public const string ResidentOk = "resident-ok";

    private const string Timer = "escalate";
    private const int MaxLevels = 9;
    private readonly TimeSpan[] _timeouts;
    private readonly string[] _levels;

    /// <summary>
    /// The chain of levels. Either <c>levels</c>, a list of 1 to 9 recipients, one per level (for example
    /// <c>["care team nord", "nurse on call", "emergency 113"]</c>), with <c>timeouts</c>, one fewer durations (the
    /// time without an ack before each next level; default 60 s, then 120 s for every later level); or the
    /// three-level shorthand: <c>level1</c> (default "care team"), <c>level2</c> ("nurse on call"), <c>level3</c>
    /// ("emergency"), <c>t1</c> (default <c>"60s"</c>) and <c>t2</c> (default <c>"120s"</c>). The two forms do not mix.
    /// </summary>
    /// <exception cref="RuleParameterException">A parameter is wrong; the message names it.</exception>
    public FallEscalationRule(RuleParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var levels = parameters.GetTextList("levels", []);
        var timeouts = parameters.GetDurationList("timeouts", []);
        if (levels.Count == 0 && parameters.Has("levels"))
        {
            throw new RuleParameterException("levels", "must name at least one level");
        }

        if (levels.Count == 0)
        {
            if (timeouts.Count > 0)
            {
                throw new RuleParameterException("timeouts", "needs \"levels\" (use t1 and t2 with the three default levels)");
            }

            _levels = [parameters.GetText("level1", "care team"), parameters.GetText("level2", "nurse on call"), parameters.GetText("level3", "emergency")];
            _timeouts = [parameters.GetDuration("t1", TimeSpan.FromSeconds(60)), parameters.GetDuration("t2", TimeSpan.FromSeconds(120))];
            return;
        }

        foreach (var shorthand in new[] { "level1", "level2", "level3", "t1", "t2" })
        {
            if (parameters.Has(shorthand))
            {
                throw new RuleParameterException(shorthand, "cannot be used with \"levels\": give the timeouts in \"timeouts\"");
            }
        }

        if (levels.Count > MaxLevels)
        {
            throw new RuleParameterException("levels", $"must have 1 to {MaxLevels} levels, not {levels.Count}");
        }

        if (timeouts.Count > 0 && timeouts.Count != levels.Count - 1)
        {
            throw new RuleParameterException("timeouts", $"must have one duration fewer than \"levels\" ({levels.Count - 1}), not {timeouts.Count}");
        }

        _levels = [.. levels];
        _timeouts = timeouts.Count > 0 ? [.. timeouts]
            : [.. Enumerable.Range(0, levels.Count - 1).Select(i => TimeSpan.FromSeconds(i == 0 ? 60 : 120))];
    }

    /// <summary>The recipients of each level, level 1 first.</summary>
    public IReadOnlyList<string> Levels => _levels;

    /// <summary>The time without an ack before each next level: entry i leads from level i + 1 to level i + 2.</summary>
    public IReadOnlyList<TimeSpan> Timeouts => _timeouts;

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
        if (_levels.Length > 1)
        {
            context.SetProcessingTimeTimer(Timer, context.ProcessingTime + _timeouts[0]);
        }
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
            context.SetProcessingTimeTimer(Timer, timer.Time + _timeouts[level - 1]);
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
        new("health", "fallenPatient", AlertSeverity.Critical, $"Fall detected by sensor {sensorId}: level {level}, {_levels[level - 1]}")
        {
            Level = level,
            Recipients = [_levels[level - 1]],
            Evidence = evidence,
        };
}
