using Kommune.Rules.Api;
using Kommune.Rules.Model;

namespace KommuneRule1;

/// <summary>
/// Raises a Medium <c>environment</c> alert (incident <c>high</c>) when a <c>noise</c> sensor's reading (parameter
/// <c>reading</c>, default <c>"db"</c>) goes above <c>threshold</c> (default 70), and resolves it at the sensor's first
/// reading at or below the threshold. One alert per sensor at a time. A reading that is missing or not a number is
/// reported as the problem <c>unusable-event</c> and changes nothing.
/// </summary>
[Rule(RuleName)]
public sealed class KommuneRule1Rule : Rule
{
    /// <summary>The name a rules file binds: <c>kommune-rule1</c>.</summary>
    public const string RuleName = "kommune-rule1";

    private const string Incident = "high";
    private readonly double _threshold;
    private readonly string _reading;

    /// <summary>Reads <c>threshold</c> (a number, default 70) and <c>reading</c> (the value's name, default <c>"db"</c>).</summary>
    /// <exception cref="RuleParameterException">A parameter is wrong; the message names it.</exception>
    public KommuneRule1Rule(RuleParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _threshold = parameters.GetNumber("threshold", 70, min: 0, max: 200);
        _reading = parameters.GetText("reading", "db");
    }

    /// <inheritdoc />
    public override IReadOnlyCollection<string> SensorTypes { get; } = ["noise"];

    /// <inheritdoc />
    public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(sensorEvent);
        if (!sensorEvent.TryGetNumber(_reading, out var level))
        {
            context.ReportProblem("unusable-event", $"{sensorEvent.SensorId}: no number in '{_reading}'");
            return;
        }

        if (level > _threshold)
        {
            // False (nothing emitted) while the alert is already open.
            context.RaiseAlert(Incident, new AlertDraft(
                "environment",
                "noise-level",
                AlertSeverity.Medium,
                $"{sensorEvent.SensorId} in area {sensorEvent.AreaId}: {level} over {_threshold}"));
        }
        else
        {
            context.ResolveAlert(Incident, $"{sensorEvent.SensorId} is back at {level}");
        }
    }
}
