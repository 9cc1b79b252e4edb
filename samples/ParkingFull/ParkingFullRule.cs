using Kommune.Rules.Api;
using Kommune.Rules.Model;
using Kommune.Rules.Windows;

namespace Kommune.Samples.ParkingFull;

/// <summary>
/// Area rule: tracks which parking bays (one "parking" sensor per bay, boolean value <c>occupied</c>) are occupied.
/// Raises a Medium <c>traffic/parking</c> alert (incident <c>full</c>) when the occupied share reaches
/// <c>threshold</c> (default 0.9) with at least <c>minBays</c> (default 10) bays known; resolves it when the share
/// drops below threshold - 0.1. Emits a tumbling 15-minute <c>parking.occupied.mean</c> aggregate of the share.
/// </summary>
[Rule(RuleName)]
public sealed class ParkingFullRule : Rule
{
    /// <summary>The name a rules file binds.</summary>
    public const string RuleName = "parking-full";

    private const string Incident = "full";
    private readonly double _threshold;
    private readonly long _minBays;

    private readonly WindowedAggregation _share = new("occupied-share", WindowSpec.Tumbling(TimeSpan.FromMinutes(15)),
        (context, result) => result.EmitAggregate(context, "parking.occupied.mean", r => r.Mean));

    /// <summary>Reads <c>threshold</c> (0..1, default 0.9) and <c>minBays</c> (integer, default 10).</summary>
    public ParkingFullRule(RuleParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _threshold = parameters.GetNumber("threshold", 0.9, min: 0, max: 1);
        _minBays = parameters.GetInteger("minBays", 10, min: 1);
    }

    /// <inheritdoc />
    public override RuleScope Scope => RuleScope.Area;

    /// <inheritdoc />
    public override IReadOnlyCollection<string> SensorTypes { get; } = ["parking"];

    /// <inheritdoc />
    public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(sensorEvent);
        if (!sensorEvent.TryGetBoolean("occupied", out var occupied))
        {
            return;
        }

        var state = context.State<Dictionary<string, bool>>("bays");
        var bays = state.Value ?? new Dictionary<string, bool>();
        bays[sensorEvent.SensorId] = occupied;
        state.Update(bays);

        var known = bays.Count;
        var share = (double)bays.Values.Count(v => v) / known;
        _share.Add(context, sensorEvent.Timestamp, share);

        if (known >= _minBays && share >= _threshold)
        {
            context.RaiseAlert(Incident, new AlertDraft("traffic", "parking-full", AlertSeverity.Medium,
                $"Parking in area {context.AreaId} is {share:P0} full ({known} bays known)"));
        }
        else if (share < _threshold - 0.1)
        {
            context.ResolveAlert(Incident, $"Parking in area {context.AreaId} is back at {share:P0}");
        }
    }

    /// <inheritdoc />
    public override void OnTimer(IRuleContext context, RuleTimer timer) => _share.OnTimer(context, timer);
}
