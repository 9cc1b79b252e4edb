namespace Kommune.Engine;

/// <summary>
/// The event time of one partition of the repartition topic: what area rules there may take as past. Every node that
/// processes sensor partitions writes, into every repartition partition, how far event time has come on each of its
/// sensor partitions (or that one is idle), and only after every fact and event up to there has been written before
/// it. The area side's watermark is the minimum over all sensor partitions that are not idle, once each has reported;
/// it never goes back. Not thread-safe.
/// </summary>
/// <param name="sources">How many sensor partitions there are (each must report before the watermark is known).</param>
internal sealed class AreaWatermarks(int sources)
{
    private readonly Dictionary<int, DateTimeOffset?> _reported = [];
    private Dictionary<int, long> _floors = [];

    /// <summary>
    /// Per sensor partition, the highest floor reported: the offset below which every event's records were written to
    /// this partition before the report. A new object whenever one rises, so a reader can tell it changed by reference.
    /// </summary>
    public IReadOnlyDictionary<int, long> Floors => _floors;

    /// <summary>Takes the floors of a watermark record.</summary>
    public void RaiseFloors(IReadOnlyDictionary<int, long>? floors)
    {
        if (floors is null)
        {
            return;
        }

        Dictionary<int, long>? raised = null;
        foreach (var (source, floor) in floors)
        {
            if (!_floors.TryGetValue(source, out var known) || floor > known)
            {
                (raised ??= new Dictionary<int, long>(_floors))[source] = floor;
            }
        }

        if (raised is not null)
        {
            _floors = raised;
        }
    }

    /// <summary>The watermark; <see cref="DateTimeOffset.MinValue"/> until every sensor partition has reported.</summary>
    public DateTimeOffset Watermark { get; private set; } = DateTimeOffset.MinValue;

    /// <summary>Takes a watermark record: per sensor partition its watermark, or null when it is idle.</summary>
    /// <returns>true when the watermark advanced.</returns>
    public bool Report(IReadOnlyDictionary<int, DateTimeOffset?> watermarks)
    {
        ArgumentNullException.ThrowIfNull(watermarks);
        foreach (var (source, watermark) in watermarks)
        {
            if (source < 0 || source >= sources)
            {
                continue;
            }

            if (watermark is not { } time)
            {
                _reported[source] = null;
            }
            else if (!_reported.TryGetValue(source, out var known) || known is null || time > known)
            {
                _reported[source] = time;
            }
        }

        if (_reported.Count < sources)
        {
            return false;
        }

        var minimum = DateTimeOffset.MaxValue;
        foreach (var watermark in _reported.Values)
        {
            if (watermark is { } time && time < minimum)
            {
                minimum = time;
            }
        }

        if (minimum == DateTimeOffset.MaxValue || minimum <= Watermark)
        {
            return false;
        }

        Watermark = minimum;
        return true;
    }
}
