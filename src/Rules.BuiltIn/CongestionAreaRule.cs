using System.Globalization;
using Kommune.Rules.Api;
using Kommune.Rules.Model;

namespace Kommune.Rules.BuiltIn;

/// <summary>
/// Area congestion (area-scoped): counts the <c>segment-minute</c> facts of <see cref="CongestionRule"/> per area and
/// minute (the fact's <c>windowStart</c>, or else the minute of its event time). Once the watermark passes a
/// minute's end plus <c>grace</c> (default <c>"15s"</c>, the time the segments' facts need to arrive), it emits the
/// aggregates <c>traffic.congested.share</c> (percent of reporting segments that were congested, 0..100) and
/// <c>traffic.speed.mean</c> (mean of the segments' mean speeds, km/h, summed as whole thousandths so that it does not
/// depend on the order the facts arrive in; none for a minute with a speed beyond ±1,000,000 km/h),
/// each with the number of segments as count.
/// </summary>
/// <remarks>
/// A High <c>traffic/trafficJam</c> alert (FIWARE's values; incident <c>area-congestion:&lt;ms of the minute that raised it&gt;</c>, so the alert id names the area rule) is raised when the share is above
/// <c>sharePercent</c> (default 40) for <c>raiseAfter</c> (default 3) consecutive minutes with at least
/// <c>minSegments</c> (default 1) segments reporting, and resolved after <c>clearAfter</c> (default 3) consecutive
/// minutes below <c>sharePercent</c> - <c>clearMarginPercent</c> (default 10); a minute in between counts for neither,
/// a minute without facts breaks both runs, and so does a minute whose first fact came after its emission time (its
/// aggregates are emitted and updated, it is not judged). A fact that arrives after its minute was emitted but within the allowed
/// lateness re-emits the aggregates (same key, latest wins) without changing the alert decision; the minute's state
/// is purged when the watermark passes its end + grace + allowed lateness.
/// </remarks>
[Rule(RuleName)]
public sealed class CongestionAreaRule : Rule
{
    /// <summary>The name a rules file binds: <c>congestion-area</c>.</summary>
    public const string RuleName = "congestion-area";

    /// <summary>The alert's incident: the start of its alert id's last part.</summary>
    public const string Incident = "area-congestion";

    /// <summary>
    /// The alert's subCategory, FIWARE's <c>trafficJam</c> (the same as <see cref="CongestionRule"/>'s: an area alert is
    /// told apart by its <c>sensorId</c>, null, and its rule).
    /// </summary>
    public const string SubCategory = "trafficJam";

    /// <summary>The metric of the congested share (percent).</summary>
    public const string ShareMetric = "traffic.congested.share";

    /// <summary>The metric of the mean speed (km/h).</summary>
    public const string SpeedMetric = "traffic.speed.mean";

    private const string MinutesState = "minutes";
    private const string RunState = "run";
    private const string EmitPrefix = "emit:";
    private const string PurgePrefix = "purge:";
    private const double MaxSpeed = 1_000_000;
    private static readonly long MinuteMs = (long)TimeSpan.FromMinutes(1).TotalMilliseconds;

    private readonly double _sharePercent;
    private readonly double _clearMarginPercent;
    private readonly Hysteresis _alert;
    private readonly int _minSegments;
    private readonly TimeSpan _grace;

    /// <summary>
    /// Reads <c>sharePercent</c> (0..100, default 40), <c>clearMarginPercent</c> (0..100, default 10),
    /// <c>raiseAfter</c> and <c>clearAfter</c> (minutes, 1..1440, default 3), <c>minSegments</c> (1.., default 1) and
    /// <c>grace</c> (a duration up to 10 minutes, default <c>"15s"</c>).
    /// </summary>
    /// <exception cref="RuleParameterException">A parameter is wrong; the message names it.</exception>
    public CongestionAreaRule(RuleParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _sharePercent = parameters.GetNumber("sharePercent", 40, min: 0, max: 100);
        _clearMarginPercent = parameters.GetNumber("clearMarginPercent", 10, min: 0, max: 100);
        _alert = Hysteresis.OnConditions() with
        {
            RaiseAfter = parameters.GetInteger("raiseAfter", 3, min: 1, max: 1440),
            ClearAfter = parameters.GetInteger("clearAfter", 3, min: 1, max: 1440),
        };
        _minSegments = parameters.GetInteger("minSegments", 1, min: 1);
        _grace = parameters.GetDuration("grace", TimeSpan.FromSeconds(15));
        if (_grace > TimeSpan.FromMinutes(10))
        {
            throw new RuleParameterException("grace", $"must be at most 10 minutes, not {_grace}");
        }
    }

    /// <summary>The rule with every parameter at its default.</summary>
    public CongestionAreaRule()
        : this(RuleParameters.Empty)
    {
    }

    /// <inheritdoc />
    public override RuleScope Scope => RuleScope.Area;

    /// <inheritdoc />
    public override IReadOnlyCollection<string> SensorTypes { get; } = [Model.SensorTypes.Traffic];

    /// <inheritdoc />
    public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
    {
        // Only the segments' facts count.
    }

    /// <inheritdoc />
    public override void OnFact(IRuleContext context, Fact fact)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(fact);
        if (fact.Name != CongestionRule.FactName
            || !fact.Values.TryGetValue("congested", out var congestedValue)
            || congestedValue.Kind != SensorValueKind.Boolean)
        {
            return;
        }

        var start = fact.Values.TryGetValue("windowStart", out var startValue) && startValue.Kind == SensorValueKind.Number
            ? Minutes.Floor(Minutes.Time((long)startValue.Number), TimeSpan.FromMinutes(1))
            : Minutes.Floor(fact.EventTime, TimeSpan.FromMinutes(1));
        var emitAt = Minutes.Time(start + MinuteMs) + _grace;
        if (context.Watermark != DateTimeOffset.MinValue && emitAt + context.AllowedLateness <= context.Watermark)
        {
            return; // too late: that minute is gone
        }

        var state = context.State<SortedDictionary<long, AreaMinute>>(MinutesState);
        var minutes = state.Value ?? [];
        if (!minutes.TryGetValue(start, out var minute))
        {
            // A minute first heard of after its emission time is emitted (and updated) but not judged: its
            // first facts alone would not be a fair share.
            minute = new AreaMinute { Emitted = emitAt <= context.Watermark };
            minutes[start] = minute;
            if (!minute.Emitted)
            {
                context.SetEventTimeTimer(EmitPrefix + Minutes.Format(start), emitAt);
            }

            context.SetEventTimeTimer(PurgePrefix + Minutes.Format(start), emitAt + context.AllowedLateness);
        }

        minute.Segments++;
        if (congestedValue.Boolean)
        {
            minute.Congested++;
        }

        if (fact.Values.TryGetValue("speed", out var speed) && speed.Kind == SensorValueKind.Number && double.IsFinite(speed.Number))
        {
            if (Math.Abs(speed.Number) <= MaxSpeed)
            {
                minute.SpeedMilliSum += ToMilli(speed.Number);
                minute.SpeedCount++;
            }
            else
            {
                minute.SpeedOutOfRange = true;
            }
        }

        state.Update(minutes);
        if (minute.Emitted)
        {
            EmitAggregates(context, start, minute);
        }
    }

    /// <inheritdoc />
    public override void OnTimer(IRuleContext context, RuleTimer timer)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(timer);
        var state = context.State<SortedDictionary<long, AreaMinute>>(MinutesState);
        if (Minutes.TryParse(timer.Name, PurgePrefix, out var start))
        {
            if (state.Value is { } minutes && minutes.Remove(start))
            {
                if (minutes.Count == 0)
                {
                    state.Clear();
                }
                else
                {
                    state.Update(minutes);
                }
            }
        }
        else if (Minutes.TryParse(timer.Name, EmitPrefix, out start)
            && state.Value is { } minutes && minutes.TryGetValue(start, out var minute) && !minute.Emitted)
        {
            minute.Emitted = true;
            state.Update(minutes);
            EmitAggregates(context, start, minute);
            Decide(context, start, minute);
        }
    }

    private static void EmitAggregates(IRuleContext context, long start, AreaMinute minute)
    {
        var from = Minutes.Time(start);
        var to = Minutes.Time(start + MinuteMs);
        context.EmitAggregate(ShareMetric, from, to, minute.SharePercent, minute.Segments);
        // A segment reporting an absurd speed (1e308 km/h) would make the mean meaningless, or infinite: no mean then.
        if (minute.SpeedCount > 0 && !minute.SpeedOutOfRange)
        {
            context.EmitAggregate(SpeedMetric, from, to, minute.SpeedMilliSum / 1000.0 / minute.SpeedCount, minute.SpeedCount);
        }
    }

    /// <summary>
    /// 3: the run as a <see cref="HysteresisState"/> (1 and 2: as counts of congested and clear minutes); 2: speeds
    /// summed as whole thousandths of km/h (1: as a floating-point sum).
    /// </summary>
    public override int StateVersion => 3;

    /// <summary>
    /// Moves the minutes of state version 1 (a floating-point speed sum) to whole thousandths, and the run of
    /// versions 1 and 2 (counts of congested and clear minutes) to a <see cref="HysteresisState"/>.
    /// </summary>
    /// <inheritdoc />
    public override bool MigrateState(int fromVersion, IStateMigration state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (fromVersion is not (1 or 2))
        {
            return false;
        }

        if (state.Read<SegmentRun>(RunState) is { } run)
        {
            state.Write(RunState, CongestionRun.From(run, MinuteMs));
        }

        if (fromVersion == 1 && state.Read<SortedDictionary<long, AreaMinuteVersion1>>(MinutesState) is { } old)
        {
            var minutes = new SortedDictionary<long, AreaMinute>();
            foreach (var (start, minute) in old)
            {
                var inRange = double.IsFinite(minute.SpeedSum) && Math.Abs(minute.SpeedSum) <= MaxSpeed * Math.Max(1, minute.SpeedCount);
                minutes[start] = new AreaMinute
                {
                    Segments = minute.Segments,
                    Congested = minute.Congested,
                    SpeedMilliSum = inRange ? ToMilli(minute.SpeedSum) : 0,
                    SpeedCount = minute.SpeedCount,
                    SpeedOutOfRange = !inRange,
                    Emitted = minute.Emitted,
                };
            }

            state.Write(MinutesState, minutes);
        }

        return true;
    }

    private static long ToMilli(double speed) => (long)Math.Round(speed * 1000, MidpointRounding.AwayFromZero);

    private void Decide(IRuleContext context, long start, AreaMinute minute)
    {
        var runState = context.State<CongestionRun>(RunState);
        var run = runState.Value ?? new CongestionRun();
        if (run.LastStart is { } last && start <= last)
        {
            return;
        }

        var share = minute.SharePercent;
        var congested = minute.Segments >= _minSegments && share > _sharePercent;
        var clear = share < _sharePercent - _clearMarginPercent;
        var text = string.Create(CultureInfo.InvariantCulture, $"{share:F0} % of {minute.Segments} segments congested");
        var (change, count) = run.Next(_alert, start, MinuteMs, run.IsOpen(context), congested, clear);
        if (change == HysteresisChange.Raised)
        {
            run.Incident = $"{Incident}:{Minutes.Format(start)}";
            context.RaiseAlert(run.Incident, new AlertDraft("traffic", SubCategory, AlertSeverity.High,
                $"Area {context.AreaId} congested for {count} minutes: {text}")
            {
                Evidence = new Dictionary<string, SensorValue>
                {
                    ["share"] = share,
                    ["segments"] = minute.Segments,
                    ["windowStart"] = start,
                },
            });
        }
        else if (change == HysteresisChange.Cleared)
        {
            context.ResolveAlert(run.Incident!, $"Area {context.AreaId} flows again for {count} minutes: {text}");
            run.Incident = null;
        }

        runState.Update(run);
    }
}

/// <summary>The counts of one minute of an area (keyed state).</summary>
internal sealed class AreaMinute
{
    /// <summary>Segments that reported the minute.</summary>
    public int Segments { get; set; }

    /// <summary>Of them, congested.</summary>
    public int Congested { get; set; }

    /// <summary>Sum of their mean speeds in thousandths of km/h (integers: the same sum in any order).</summary>
    public long SpeedMilliSum { get; set; }

    /// <summary>How many reported a speed (within ±1,000,000 km/h).</summary>
    public int SpeedCount { get; set; }

    /// <summary>Whether one reported a speed beyond ±1,000,000 km/h (the minute has no mean speed).</summary>
    public bool SpeedOutOfRange { get; set; }

    /// <summary>Whether the minute's aggregates were emitted.</summary>
    public bool Emitted { get; set; }

    /// <summary>Congested segments in percent of those reporting.</summary>
    public double SharePercent => Segments == 0 ? 0 : 100.0 * Congested / Segments;
}

/// <summary>The counts of one minute of an area as state version 1 kept them (read only by the migration).</summary>
internal sealed class AreaMinuteVersion1
{
    public int Segments { get; set; }

    public int Congested { get; set; }

    public double SpeedSum { get; set; }

    public int SpeedCount { get; set; }

    public bool Emitted { get; set; }
}
