using System.Globalization;
using Kommune.Rules.Api;
using Kommune.Rules.Model;

namespace Kommune.Rules.BuiltIn;

/// <summary>
/// Parking per area (area-scoped, type <c>parking</c>). Two kinds of sensor: a bay sensor sends <c>occupied</c>
/// (boolean) and counts as one space; a car park counter sends <c>capacity</c> with either <c>free</c> or
/// <c>occupied</c> (numbers of spaces; a reading without <c>capacity</c> keeps the sensor's last one). A reading the
/// rule cannot use (none of these, a negative count, or a count before any capacity is known) is reported as the
/// problem <c>unusable-event</c> (counted and logged by the engine). The last reading per sensor by event time is kept in area
/// state. For every minute from the area's first reading on, once the watermark passes the minute's end, the rule
/// emits <c>parking.free</c> (free spaces) and <c>parking.occupancy</c> (occupied percent of the capacity, 0..100),
/// each the state at the end of that minute (readings before its end), with the number of sensors as count.
/// </summary>
/// <remarks>
/// A Medium <c>traffic/parking-full</c> alert (FIWARE's Alert has no parking value: <c>parking-full</c> is ours; incident <c>parking-full:&lt;ms of its first full minute end&gt;</c>, so each incident has its own alert id) is raised when the occupancy is above
/// <c>fullPercent</c> (default 95) at every minute end for <c>for</c> (default <c>"10m"</c>) of event time, with a
/// capacity of at least <c>minCapacity</c> (default 10); it is resolved at the first minute end below
/// <c>clearPercent</c> (default 85). Readings newer than the last emitted minute are kept until a minute end passes
/// them; older ones are dropped but the last before it, so state is bounded by the number of sensors and the
/// watermark's delay. A reading older than an emitted minute end changes later minutes only.
/// Once no sensor of the area has reported for <c>quietAfter</c> (default <c>"1h"</c>) of event time before a minute
/// end, the minutes pause until the next reading, which starts them again at its own minute: a silent car park says
/// nothing new, and a watermark that jumps far ahead (a reading from a sensor with a wrong clock, a long outage)
/// costs at most <c>quietAfter</c> of minutes instead of one per minute of the jump.
/// </remarks>
[Rule(RuleName)]
public sealed class ParkingRule : Rule
{
    /// <summary>The name a rules file binds: <c>parking</c>.</summary>
    public const string RuleName = "parking";

    /// <summary>The alert's incident: the start of its alert id's last part.</summary>
    public const string Incident = "parking-full";

    /// <summary>The alert's subCategory, our own: none of FIWARE's Alert subCategory values is about parking.</summary>
    public const string SubCategory = "parking-full";

    /// <summary>The metric of free spaces.</summary>
    public const string FreeMetric = "parking.free";

    /// <summary>The metric of the occupancy in percent.</summary>
    public const string OccupancyMetric = "parking.occupancy";

    /// <summary>The problem kind of a reading the rule cannot use.</summary>
    public const string UnusableEvent = "unusable-event";

    private const string SensorsState = "sensors";
    private const string ProgressState = "progress";
    private const string MinuteTimer = "minute-end";
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);

    private readonly double _fullPercent;
    private readonly double _clearPercent;
    private readonly TimeSpan _for;
    private readonly int _minCapacity;
    private readonly long _quietAfterMs;

    /// <summary>
    /// Reads <c>fullPercent</c> (0..100, default 95), <c>clearPercent</c> (0..100 and below <c>fullPercent</c>,
    /// default 85), <c>for</c> (a duration, default <c>"10m"</c>), <c>minCapacity</c> (1.., default 10) and
    /// <c>quietAfter</c> (a duration, default <c>"1h"</c>).
    /// </summary>
    /// <exception cref="RuleParameterException">A parameter is wrong; the message names it.</exception>
    public ParkingRule(RuleParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _fullPercent = parameters.GetNumber("fullPercent", 95, min: 0, max: 100);
        _clearPercent = parameters.GetNumber("clearPercent", 85, min: 0, max: 100);
        if (_clearPercent >= _fullPercent)
        {
            throw new RuleParameterException("clearPercent", string.Create(
                CultureInfo.InvariantCulture, $"must be below fullPercent ({_fullPercent}), not {_clearPercent}"));
        }

        _for = parameters.GetDuration("for", TimeSpan.FromMinutes(10));
        _minCapacity = parameters.GetInteger("minCapacity", 10, min: 1);
        _quietAfterMs = (long)parameters.GetDuration("quietAfter", TimeSpan.FromHours(1)).TotalMilliseconds;
    }

    /// <summary>The rule with every parameter at its default.</summary>
    public ParkingRule()
        : this(RuleParameters.Empty)
    {
    }

    /// <inheritdoc />
    public override RuleScope Scope => RuleScope.Area;

    /// <summary>A car park's count: free spaces, or else occupied ones (numbers, finite, not negative); null when neither.</summary>
    private static (double? Free, double? Occupied)? CarParkCount(SensorEvent sensorEvent)
    {
        if (sensorEvent.TryGetNumber("free", out var free) && double.IsFinite(free) && free >= 0)
        {
            return (free, null);
        }

        if (sensorEvent.TryGetNumber("occupied", out var occupied) && double.IsFinite(occupied) && occupied >= 0)
        {
            return (null, occupied);
        }

        return null;
    }

    /// <inheritdoc />
    public override IReadOnlyCollection<string> SensorTypes { get; } = [Model.SensorTypes.Parking];

    /// <inheritdoc />
    public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(sensorEvent);
        var time = sensorEvent.Timestamp.ToUnixTimeMilliseconds();
        var state = context.State<Dictionary<string, List<ParkingReading>>>(SensorsState);
        var sensors = state.Value ?? new Dictionary<string, List<ParkingReading>>(StringComparer.Ordinal);
        sensors.TryGetValue(sensorEvent.SensorId, out var readings);
        ParkingReading reading;
        if (sensorEvent.TryGetBoolean("occupied", out var occupied))
        {
            reading = new ParkingReading { T = time, Free = occupied ? 0 : 1, Capacity = 1 };
        }
        else if (CarParkCount(sensorEvent) is { } count)
        {
            var capacity = sensorEvent.TryGetNumber("capacity", out var given) && double.IsFinite(given) && given > 0
                ? given
                : KnownCapacity(readings, time);
            if (capacity is not { } known)
            {
                // A count without a known capacity says nothing about the share.
                context.ReportProblem(UnusableEvent, "a car park count without 'capacity', and none known for this sensor yet");
                return;
            }

            var free = count.Free ?? known - count.Occupied!.Value;
            reading = new ParkingReading { T = time, Free = Math.Clamp(free, 0, known), Capacity = known };
        }
        else
        {
            context.ReportProblem(UnusableEvent, "a parking reading needs 'occupied' (true or false, a bay) or a count of 'free' or 'occupied' spaces (0 or more) with 'capacity' (a car park)");
            return;
        }

        readings ??= [];
        Keep(readings, reading);
        sensors[sensorEvent.SensorId] = readings;

        var progressState = context.State<ParkingProgress>(ProgressState);
        var progress = progressState.Value ?? new ParkingProgress();
        if (progress.EmittedUntil is { } emitted)
        {
            Prune(readings, emitted);
        }

        if (progress.NextEnd is null)
        {
            // The area's first reading, or the first after a pause: minutes go on from this reading's minute.
            var next = Minutes.Floor(sensorEvent.Timestamp, Minute) + (long)Minute.TotalMilliseconds;
            progress.NextEnd = progress.EmittedUntil is { } last && next <= last ? last + (long)Minute.TotalMilliseconds : next;
            progressState.Update(progress);
            context.SetEventTimeTimer(MinuteTimer, Minutes.Time(progress.NextEnd.Value));
        }

        state.Update(sensors);
    }

    /// <inheritdoc />
    public override void OnTimer(IRuleContext context, RuleTimer timer)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(timer);
        var progressState = context.State<ParkingProgress>(ProgressState);
        if (timer.Name != MinuteTimer || progressState.Value is not { NextEnd: { } end } progress)
        {
            return;
        }

        var state = context.State<Dictionary<string, List<ParkingReading>>>(SensorsState);
        var sensors = state.Value ?? [];
        double free = 0, capacity = 0;
        long known = 0;
        var newest = long.MinValue; // the newest reading before the minute end
        var next = long.MaxValue; // the earliest reading at or after it (already here: facts and events of an area
                                  // can arrive before the watermark that passes this minute)
        foreach (var readings in sensors.Values)
        {
            Prune(readings, end);
            if (readings.Count > 0 && readings[0].T < end)
            {
                free += readings[0].Free;
                capacity += readings[0].Capacity;
                known++;
                newest = Math.Max(newest, readings[0].T);
            }

            foreach (var reading in readings)
            {
                if (reading.T >= end)
                {
                    next = Math.Min(next, reading.T);
                    break;
                }
            }
        }

        state.Update(sensors);
        if (newest == long.MinValue || end - newest > _quietAfterMs)
        {
            // Quiet for too long: pause until the next reading (a full run starts over then), or, when it is here
            // already, go on from its minute.
            progress.FullSince = null;
            progress.NextEnd = next == long.MaxValue ? null : Minutes.Floor(Minutes.Time(next), Minute) + (long)Minute.TotalMilliseconds;
            progressState.Update(progress);
            if (progress.NextEnd is { } resume)
            {
                context.SetEventTimeTimer(MinuteTimer, Minutes.Time(resume));
            }

            return;
        }

        progress.EmittedUntil = end;
        progress.NextEnd = end + (long)Minute.TotalMilliseconds;
        context.SetEventTimeTimer(MinuteTimer, Minutes.Time(progress.NextEnd.Value));

        var start = Minutes.Time(end) - Minute;
        if (capacity > 0)
        {
            var occupancy = 100 * (capacity - free) / capacity;
            context.EmitAggregate(FreeMetric, start, Minutes.Time(end), free, known);
            context.EmitAggregate(OccupancyMetric, start, Minutes.Time(end), occupancy, known);
            Decide(context, progress, end, occupancy, free, capacity);
        }

        progressState.Update(progress);
    }

    private void Decide(IRuleContext context, ParkingProgress progress, long end, double occupancy, double free, double capacity)
    {
        var text = string.Create(CultureInfo.InvariantCulture, $"{occupancy:F1} % occupied, {free} of {capacity} spaces free");
        if (occupancy > _fullPercent && capacity >= _minCapacity)
        {
            progress.FullSince ??= end;
            if (progress.Incident is not null && context.OpenAlert(progress.Incident) is null)
            {
                progress.Incident = null; // resolved by an operator: a new run is a new incident
            }

            if (progress.Incident is null && Minutes.Time(end) - Minutes.Time(progress.FullSince.Value) >= _for)
            {
                progress.Incident = $"{Incident}:{Minutes.Format(progress.FullSince.Value)}";
                context.RaiseAlert(progress.Incident, new AlertDraft("traffic", SubCategory, AlertSeverity.Medium,
                    $"Parking in area {context.AreaId} full since {Minutes.Time(progress.FullSince.Value):u}: {text}")
                {
                    Evidence = new Dictionary<string, SensorValue>
                    {
                        ["occupancy"] = occupancy,
                        ["free"] = free,
                        ["capacity"] = capacity,
                    },
                });
            }

            return;
        }

        progress.FullSince = null;
        if (occupancy < _clearPercent && progress.Incident is not null)
        {
            context.ResolveAlert(progress.Incident, $"Parking in area {context.AreaId} has room again: {text}");
            progress.Incident = null;
        }
    }

    /// <summary>
    /// Puts <paramref name="reading"/> in event-time order among a sensor's <paramref name="readings"/>, keeping only the
    /// newest reading of each minute: a minute's end counts the newest reading before it, so an older one of the same
    /// minute can never count in any minute, and keeping it made an area's state (written at every checkpoint) grow with
    /// how often its sensors report rather than with how many there are. On equal times the later arrival wins, as it did
    /// when both were kept.
    /// </summary>
    private static void Keep(List<ParkingReading> readings, ParkingReading reading)
    {
        var minute = Minutes.Floor(Minutes.Time(reading.T), Minute);
        var index = LastAtOrBefore(readings, reading.T) + 1;
        if (index > 0 && Minutes.Floor(Minutes.Time(readings[index - 1].T), Minute) == minute)
        {
            readings[index - 1] = reading; // the older reading of its minute
        }
        else if (index == readings.Count || Minutes.Floor(Minutes.Time(readings[index].T), Minute) != minute)
        {
            readings.Insert(index, reading);
        }

        // Otherwise a newer reading of the same minute is kept already, and this one would never count.
    }

    /// <summary>
    /// The capacity of a sensor's newest reading at or before <paramref name="time"/>, else of its first; null when it has
    /// none.
    /// </summary>
    private static double? KnownCapacity(List<ParkingReading>? readings, long time)
    {
        if (readings is not { Count: > 0 })
        {
            return null;
        }

        var index = LastAtOrBefore(readings, time);
        return readings[index >= 0 ? index : 0].Capacity;
    }

    /// <summary>The index of the last reading at or before <paramref name="time"/> (in event-time order), -1 when none is.</summary>
    private static int LastAtOrBefore(List<ParkingReading> readings, long time)
    {
        var index = readings.Count - 1;
        while (index >= 0 && readings[index].T > time)
        {
            index--;
        }

        return index;
    }

    /// <summary>Drops every reading before the last one older than <paramref name="end"/>, which stays first.</summary>
    private static void Prune(List<ParkingReading> readings, long end)
    {
        var last = readings.Count - 1;
        while (last >= 0 && readings[last].T >= end)
        {
            last--;
        }

        if (last > 0)
        {
            readings.RemoveRange(0, last);
        }
    }
}

/// <summary>
/// One reading of a parking sensor (keyed state): a bay is capacity 1, free 0 or 1. A value, kept in its sensor's list
/// itself: an object per reading outlived young collections in the area's long-lived state.
/// </summary>
internal readonly record struct ParkingReading
{
    /// <summary>Event time, Unix ms.</summary>
    public long T { get; init; }

    /// <summary>Free spaces.</summary>
    public double Free { get; init; }

    /// <summary>Spaces in all.</summary>
    public double Capacity { get; init; }
}

/// <summary>How far an area's minutes were emitted and since when it is full (keyed state).</summary>
internal sealed class ParkingProgress
{
    /// <summary>End (Unix ms) of the next minute to emit.</summary>
    public long? NextEnd { get; set; }

    /// <summary>End (Unix ms) of the last minute emitted.</summary>
    public long? EmittedUntil { get; set; }

    /// <summary>The first minute end (Unix ms) of the current run above the full threshold.</summary>
    public long? FullSince { get; set; }

    /// <summary>The incident of the open alert (<c>parking-full:&lt;first full minute end ms&gt;</c>), or null.</summary>
    public string? Incident { get; set; }
}
