using Kommune.Rules.Api;
using Kommune.Rules.Model;

namespace Kommune.Samples.ColdRoom;

/// <summary>
/// Raises a Medium <c>environment/temperature</c> alert (incident <c>cold</c>) when a room's <c>temperature</c> reading
/// stays below <c>threshold</c> (°C, default 18) for <c>for</c> (default <c>"10m"</c>) of event time, and resolves it at
/// the first reading at or above the threshold. A warm reading inside a cold spell ends the spell.
/// </summary>
[Rule(RuleName)]
public sealed class ColdRoomRule : Rule
{
    /// <summary>The name a rules file binds: <c>cold-room</c>.</summary>
    public const string RuleName = "cold-room";

    private const string Incident = "cold";
    private const string Timer = "cold-for";
    private readonly double _threshold;
    private readonly TimeSpan _for;

    /// <summary>Reads <c>threshold</c> (a number, default 18) and <c>for</c> (a duration, default <c>"10m"</c>).</summary>
    /// <exception cref="RuleParameterException">A parameter is wrong; the message names it.</exception>
    public ColdRoomRule(RuleParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _threshold = parameters.GetNumber("threshold", 18, min: -50, max: 50);
        _for = parameters.GetDuration("for", TimeSpan.FromMinutes(10));
    }

    /// <inheritdoc />
    public override IReadOnlyCollection<string> SensorTypes { get; } = ["temperature"];

    /// <inheritdoc />
    public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(sensorEvent);
        if (!sensorEvent.TryGetNumber("temperature", out var celsius))
        {
            return;
        }

        var coldSince = context.State<DateTimeOffset>("coldSince");
        var lastWarm = context.State<DateTimeOffset>("lastWarm");
        var time = sensorEvent.Timestamp;
        if (celsius >= _threshold)
        {
            if (!lastWarm.HasValue || time > lastWarm.Value)
            {
                lastWarm.Update(time);
            }

            if (coldSince.HasValue && time >= coldSince.Value)
            {
                coldSince.Clear();
                context.CancelTimer(Timer);
                context.ResolveAlert(Incident, $"Room {sensorEvent.SensorId} is back at {celsius} °C");
            }
        }
        else if ((!lastWarm.HasValue || time > lastWarm.Value) && (!coldSince.HasValue || time < coldSince.Value) && context.OpenAlert(Incident) is null)
        {
            // The first cold reading after the last warm one (or a late, earlier one) starts the spell.
            coldSince.Update(time);
            context.SetEventTimeTimer(Timer, time + _for);
        }
    }

    /// <inheritdoc />
    public override void OnTimer(IRuleContext context, RuleTimer timer)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(timer);
        if (timer.Name == Timer && context.State<DateTimeOffset>("coldSince") is { HasValue: true } since)
        {
            context.RaiseAlert(Incident, new AlertDraft(
                "environment",
                "lowTemperature",
                AlertSeverity.Medium,
                $"Room {context.Key} in area {context.AreaId} below {_threshold} °C since {since.Value:u}"));
        }
    }
}
