using System.Globalization;
using Kommune.Rules.Api;
using Kommune.Rules.Model;

namespace Kommune.Rules.BuiltIn;

/// <summary>
/// Per road-segment congestion (sensor-scoped, type <c>traffic</c>): readings of <c>speed</c> (km/h) and
/// <c>occupancy</c> (%) are averaged over 1-minute event-time tumbling windows, closed when the watermark passes
/// their end. The segment's free-flow speed is learned online as the <c>freeFlowPercentile</c> (default 85) of past
/// window mean speeds in a bounded, decayed histogram (<c>freeFlowHalfLife</c>, default <c>"7d"</c>); until
/// <c>freeFlowMinWindows</c> (default 30) windows were seen, <c>freeFlowSpeed</c> (default 50 km/h) stands in.
/// </summary>
/// <remarks>
/// <para>
/// A window is congested when its mean speed is below <c>speedPercent</c> (default 50) % of free flow, or its mean
/// occupancy is above <c>occupancyPercent</c> (default 30). After <c>raiseAfter</c> (default 3) consecutive congested
/// windows a High <c>traffic/trafficJam</c> alert (FIWARE's values; incident <c>congestion:&lt;start ms of the window that raised it&gt;</c>, so each incident has its own alert id) is raised. It is resolved after
/// <c>clearAfter</c> (default 3) consecutive clear windows, a clear window having a mean speed of at least
/// <c>speedPercent</c> + <c>clearMarginPercent</c> (default 15) % of free flow and occupancy at or below
/// <c>occupancyPercent</c>; a window between the two bands counts for neither, so the alert does not flap. A minute
/// without readings breaks both runs.
/// </para>
/// <para>
/// Each closed window sends the fact <c>segment-minute</c> to the area (<c>congested</c> boolean, <c>speed</c> and
/// <c>occupancy</c> means when measured, <c>freeFlow</c> km/h, <c>windowStart</c> Unix ms), which
/// <see cref="CongestionAreaRule"/> counts. A reading for a window already closed is ignored. State: the open
/// windows (purged when closed), the histogram (at most 251 bins) and the runs.
/// </para>
/// </remarks>
[Rule(RuleName)]
public sealed class CongestionRule : Rule
{
    /// <summary>The name a rules file binds: <c>congestion</c>.</summary>
    public const string RuleName = "congestion";

    /// <summary>The name of the fact sent to the area for each closed window.</summary>
    public const string FactName = "segment-minute";

    /// <summary>The alert's incident: the start of its alert id's last part.</summary>
    public const string Incident = "congestion";

    private readonly TimeSpan _window;

    private const string WindowsState = "windows";
    private const string FreeFlowState = "freeFlow";
    private const string RunState = "run";
    private const string TimerPrefix = "close:";

    private readonly double _speedPercent;
    private readonly double _occupancyPercent;
    private readonly Hysteresis _alert;
    private readonly double _clearMarginPercent;
    private readonly double _freeFlowQuantile;
    private readonly double _freeFlowSpeed;
    private readonly int _freeFlowMinWindows;
    private readonly double _decay;

    /// <summary>
    /// Reads <c>speedPercent</c> (1..100, default 50), <c>occupancyPercent</c> (0..100, default 30), <c>raiseAfter</c>
    /// and <c>clearAfter</c> (windows, 1..1440, default 3), <c>clearMarginPercent</c> (0..100, default 15),
    /// <c>freeFlowPercentile</c> (50..99, default 85), <c>freeFlowSpeed</c> (5..250 km/h, default 50),
    /// <c>freeFlowMinWindows</c> (1..100000, default 30) and <c>freeFlowHalfLife</c> (a duration of at least one
    /// window, default <c>"7d"</c>).
    /// </summary>
    /// <exception cref="RuleParameterException">A parameter is wrong; the message names it.</exception>
    public CongestionRule(RuleParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _window = parameters.GetDuration("window", TimeSpan.FromMinutes(1));
        if (_window < TimeSpan.FromMinutes(1) || _window > TimeSpan.FromHours(1) || _window.Ticks % TimeSpan.TicksPerSecond != 0)
        {
            throw new RuleParameterException("window", $"must be whole seconds between 1 minute and 1 hour, not {_window}");
        }

        _speedPercent = parameters.GetNumber("speedPercent", 50, min: 1, max: 100);
        _occupancyPercent = parameters.GetNumber("occupancyPercent", 30, min: 0, max: 100);
        _alert = Hysteresis.OnConditions() with
        {
            RaiseAfter = parameters.GetInteger("raiseAfter", 3, min: 1, max: 1440),
            ClearAfter = parameters.GetInteger("clearAfter", 3, min: 1, max: 1440),
        };
        _clearMarginPercent = parameters.GetNumber("clearMarginPercent", 15, min: 0, max: 100);
        _freeFlowQuantile = parameters.GetNumber("freeFlowPercentile", 85, min: 50, max: 99) / 100;
        _freeFlowSpeed = parameters.GetNumber("freeFlowSpeed", 50, min: 5, max: FreeFlowHistogram.MaxSpeed);
        _freeFlowMinWindows = parameters.GetInteger("freeFlowMinWindows", 30, min: 1, max: 100_000);
        var halfLife = parameters.GetDuration("freeFlowHalfLife", TimeSpan.FromDays(7));
        if (halfLife < _window)
        {
            throw new RuleParameterException("freeFlowHalfLife", $"must be at least {_window.TotalSeconds.ToString(CultureInfo.InvariantCulture)}s, not {halfLife}");
        }

        _decay = Math.Pow(0.5, _window / halfLife);
    }

    /// <summary>The rule with every parameter at its default.</summary>
    public CongestionRule()
        : this(RuleParameters.Empty)
    {
    }

    /// <inheritdoc />
    public override IReadOnlyCollection<string> SensorTypes { get; } = [Model.SensorTypes.Traffic];

    /// <inheritdoc />
    public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(sensorEvent);
        var hasSpeed = sensorEvent.TryGetNumber("speed", out var speed) && double.IsFinite(speed) && speed >= 0;
        var hasOccupancy = sensorEvent.TryGetNumber("occupancy", out var occupancy) && double.IsFinite(occupancy);
        if (!hasSpeed && !hasOccupancy)
        {
            return;
        }

        var start = Minutes.Floor(sensorEvent.Timestamp, _window);
        var end = start + (long)_window.TotalMilliseconds;
        var run = context.State<CongestionRun>(RunState).Value;
        if (Minutes.Time(end) <= context.Watermark || (run?.LastStart is { } last && start <= last))
        {
            return; // that window was closed already
        }

        var state = context.State<SortedDictionary<long, SegmentWindow>>(WindowsState);
        var windows = state.Value ?? [];
        if (!windows.TryGetValue(start, out var window))
        {
            window = new SegmentWindow();
            windows[start] = window;
            context.SetEventTimeTimer(TimerPrefix + start.ToString(CultureInfo.InvariantCulture), Minutes.Time(end));
        }

        if (hasSpeed)
        {
            window.SpeedSum += speed;
            window.SpeedCount++;
        }

        if (hasOccupancy)
        {
            window.OccupancySum += occupancy;
            window.OccupancyCount++;
        }

        state.Update(windows);
    }

    /// <inheritdoc />
    public override void OnTimer(IRuleContext context, RuleTimer timer)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(timer);
        if (!Minutes.TryParse(timer.Name, TimerPrefix, out var start))
        {
            return;
        }

        var state = context.State<SortedDictionary<long, SegmentWindow>>(WindowsState);
        if (state.Value is not { } windows || !windows.Remove(start, out var window))
        {
            return;
        }

        if (windows.Count == 0)
        {
            state.Clear();
        }
        else
        {
            state.Update(windows);
        }

        Close(context, start, window);
    }

    /// <summary>2: the runs as a <see cref="HysteresisState"/> (1: as counts of congested and clear windows).</summary>
    public override int StateVersion => 2;

    /// <summary>Moves the run of state version 1 (counts of congested and clear windows) to a <see cref="HysteresisState"/>.</summary>
    /// <inheritdoc />
    public override bool MigrateState(int fromVersion, IStateMigration state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (fromVersion != 1)
        {
            return false;
        }

        if (state.Read<SegmentRun>(RunState) is { } old)
        {
            state.Write(RunState, CongestionRun.From(old, (long)_window.TotalMilliseconds));
        }

        return true;
    }

    private void Close(IRuleContext context, long start, SegmentWindow window)
    {
        var histogramState = context.State<FreeFlowHistogram>(FreeFlowState);
        var histogram = histogramState.Value ?? new FreeFlowHistogram();
        var freeFlow = histogram.Samples >= _freeFlowMinWindows ? histogram.Quantile(_freeFlowQuantile) : _freeFlowSpeed;
        // A sum of absurd readings (1e308 km/h) overflows: such a window says nothing about the traffic.
        double? speed = window.SpeedCount > 0 && double.IsFinite(window.SpeedSum) ? window.SpeedSum / window.SpeedCount : null;
        double? occupancy = window.OccupancyCount > 0 && double.IsFinite(window.OccupancySum) ? window.OccupancySum / window.OccupancyCount : null;
        var slow = speed < _speedPercent / 100 * freeFlow;
        var full = occupancy > _occupancyPercent;
        var congested = slow || full;
        var clear = !full && (speed is null || speed >= (_speedPercent + _clearMarginPercent) / 100 * freeFlow);

        if (speed is { } mean)
        {
            histogram.Add(mean, _decay);
            histogramState.Update(histogram);
        }

        var runState = context.State<CongestionRun>(RunState);
        var run = runState.Value ?? new CongestionRun();
        var values = new Dictionary<string, SensorValue>
        {
            ["congested"] = congested,
            ["freeFlow"] = Math.Round(freeFlow, 2),
            ["windowStart"] = start,
        };
        if (speed is { } s)
        {
            values["speed"] = s;
        }

        if (occupancy is { } o)
        {
            values["occupancy"] = o;
        }

        var (change, count) = run.Next(_alert, start, (long)_window.TotalMilliseconds, run.IsOpen(context), congested, clear);
        if (change == HysteresisChange.Raised)
        {
            run.Incident = $"{Incident}:{Minutes.Format(start)}";
            context.RaiseAlert(run.Incident, new AlertDraft("traffic", "trafficJam", AlertSeverity.High, string.Create(
                CultureInfo.InvariantCulture,
                $"Congestion on segment {context.Key} in area {context.AreaId} for {count} minutes: {Describe(speed, occupancy, freeFlow)}"))
            {
                Evidence = values,
            });
        }
        else if (change == HysteresisChange.Cleared)
        {
            context.ResolveAlert(run.Incident!, string.Create(
                CultureInfo.InvariantCulture,
                $"Traffic on segment {context.Key} flows again for {count} minutes: {Describe(speed, occupancy, freeFlow)}"));
            run.Incident = null;
        }

        runState.Update(run);
        context.SendFact(FactName, values);
    }

    private static string Describe(double? speed, double? occupancy, double freeFlow) => string.Create(
        CultureInfo.InvariantCulture,
        $"speed {(speed is { } s ? s.ToString("F1", CultureInfo.InvariantCulture) : "-")} km/h (free flow {freeFlow:F1}), occupancy {(occupancy is { } o ? o.ToString("F1", CultureInfo.InvariantCulture) : "-")} %");
}

/// <summary>The sums of one open minute of a segment (keyed state).</summary>
internal sealed class SegmentWindow
{
    /// <summary>Sum of speeds, km/h.</summary>
    public double SpeedSum { get; set; }

    /// <summary>How many speeds.</summary>
    public long SpeedCount { get; set; }

    /// <summary>Sum of occupancies, %.</summary>
    public double OccupancySum { get; set; }

    /// <summary>How many occupancies.</summary>
    public long OccupancyCount { get; set; }
}

/// <summary>
/// The congestion alert of a segment or an area (keyed state): where its hysteresis stands (windows in a row toward
/// raising while clear, toward clearing while raised) and the incident it raised. Replaced <see cref="SegmentRun"/>
/// in state version 2 of <see cref="CongestionRule"/> and 3 of <see cref="CongestionAreaRule"/>.
/// </summary>
internal sealed class CongestionRun
{
    /// <summary>Start (Unix ms) of the last window judged.</summary>
    public long? LastStart { get; set; }

    /// <summary>Where the hysteresis stands: raised while <see cref="Incident"/> is open.</summary>
    public HysteresisState Alert { get; set; } = HysteresisState.Clear;

    /// <summary>The incident of the open alert (<c>&lt;incident&gt;:&lt;window start ms&gt;</c>), or null.</summary>
    public string? Incident { get; set; }

    /// <summary>Whether <see cref="Incident"/> is still open (an operator may have resolved or acknowledged it).</summary>
    public bool IsOpen(IRuleContext context) => Incident is not null && context.OpenAlert(Incident) is not null;

    /// <summary>
    /// Judges the window that starts at <paramref name="start"/>: a gap since the last window starts the run over, and
    /// so does an alert no longer open (<paramref name="open"/> false: resolved or acknowledged by an operator). The
    /// caller raises or resolves the alert on a change and sets <see cref="Incident"/>.
    /// </summary>
    /// <returns>What changed, and how many windows in a row made the change (or counted toward it).</returns>
    public (HysteresisChange Change, int Count) Next(Hysteresis hysteresis, long start, long windowMs, bool open, bool congested, bool clear)
    {
        if (LastStart is { } last && start != last + windowMs)
        {
            Alert = Alert with { Count = 0, Since = null };
        }

        LastStart = start;
        if (!open)
        {
            Incident = null;
            if (Alert.IsRaised)
            {
                Alert = HysteresisState.Clear;
            }
        }

        var count = Alert.Count + 1;
        Alert = hysteresis.Next(Alert, Minutes.Time(start), raising: congested, clearing: clear, out var change);
        return (change, change == HysteresisChange.None ? Alert.Count : count);
    }

    /// <summary>The run as <see cref="SegmentRun"/> kept it, windows <paramref name="windowMs"/> apart.</summary>
    public static CongestionRun From(SegmentRun old, long windowMs)
    {
        var raised = old.Incident is not null;
        var count = raised ? old.Clear : old.Congested;
        DateTimeOffset? since = count > 0 && old.LastStart is { } last ? Minutes.Time(last - ((count - 1) * windowMs)) : null;
        return new CongestionRun
        {
            LastStart = old.LastStart,
            Alert = new HysteresisState(raised, count, since),
            Incident = old.Incident,
        };
    }
}

/// <summary>
/// The runs of congested and clear windows of a segment or an area as <see cref="CongestionRule"/>'s state version 1
/// and <see cref="CongestionAreaRule"/>'s 1 and 2 kept them (read only by the migrations).
/// </summary>
internal sealed class SegmentRun
{
    /// <summary>Start (Unix ms) of the last closed window.</summary>
    public long? LastStart { get; set; }

    /// <summary>Consecutive congested windows while no alert is open.</summary>
    public int Congested { get; set; }

    /// <summary>Consecutive clear windows while the alert is open.</summary>
    public int Clear { get; set; }

    /// <summary>The incident of the open alert, or null.</summary>
    public string? Incident { get; set; }
}

/// <summary>Minute arithmetic on Unix milliseconds shared by the traffic rules.</summary>
internal static class Minutes
{
    /// <summary>The start (Unix ms) of the window of <paramref name="size"/> that holds <paramref name="time"/>.</summary>
    public static long Floor(DateTimeOffset time, TimeSpan size)
    {
        var ms = time.ToUnixTimeMilliseconds();
        var step = (long)size.TotalMilliseconds;
        var quotient = Math.DivRem(ms, step, out var remainder);
        return (remainder < 0 ? quotient - 1 : quotient) * step;
    }

    /// <summary>Unix milliseconds as a time.</summary>
    public static DateTimeOffset Time(long unixMilliseconds) => DateTimeOffset.FromUnixTimeMilliseconds(unixMilliseconds);

    /// <summary>Reads the Unix ms after <paramref name="prefix"/> in a timer name.</summary>
    public static bool TryParse(string name, string prefix, out long start)
    {
        start = 0;
        return name.StartsWith(prefix, StringComparison.Ordinal)
            && long.TryParse(name.AsSpan(prefix.Length), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out start);
    }

    /// <summary>Unix ms as timer-name text.</summary>
    public static string Format(long start) => start.ToString(CultureInfo.InvariantCulture);
}
