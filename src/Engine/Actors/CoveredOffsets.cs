namespace Kommune.Engine.Actors;

/// <summary>
/// Per input partition, the newest offset a key's state includes (what its state record says it covers). Nearly every
/// key reads one partition (a sensor its sensor-events partition, an area its repartition partition), so the first
/// partition noted is kept in two fields and only others in a map: a map of one entry cost every key with persisted
/// state about 200 bytes. The partitions keep the order they were first noted in (<see cref="RestoreState.SensorTask"/>
/// reads the first). A mutable struct: use it only as a field, never through a copy.
/// </summary>
internal struct CoveredOffsets
{
    private int _partitionPlusOne; // the first partition noted, plus one (0: none noted), so the default is empty
    private long _offset;
    private Dictionary<int, long>? _others; // partitions noted after the first

    /// <summary>How many partitions are noted.</summary>
    public readonly int Count => (_partitionPlusOne > 0 ? 1 : 0) + (_others?.Count ?? 0);

    /// <summary>The offsets of <paramref name="covers"/>, in its order.</summary>
    public static CoveredOffsets From(IReadOnlyDictionary<int, long> covers)
    {
        var offsets = default(CoveredOffsets);
        foreach (var (partition, offset) in covers)
        {
            offsets.Set(partition, offset);
        }

        return offsets;
    }

    /// <summary>The offset noted for <paramref name="partition"/>; false when none is.</summary>
    public readonly bool TryGet(int partition, out long offset)
    {
        if (_partitionPlusOne == partition + 1)
        {
            offset = _offset;
            return true;
        }

        offset = 0;
        return _others is not null && _others.TryGetValue(partition, out offset);
    }

    /// <summary>Notes <paramref name="offset"/> as the newest of <paramref name="partition"/> included.</summary>
    public void Set(int partition, long offset)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        if (_partitionPlusOne == 0 || _partitionPlusOne == partition + 1)
        {
            _partitionPlusOne = partition + 1;
            _offset = offset;
        }
        else
        {
            (_others ??= [])[partition] = offset;
        }
    }

    /// <summary>A new map of the offsets noted, in the order their partitions were first noted.</summary>
    public readonly Dictionary<int, long> ToDictionary()
    {
        var map = new Dictionary<int, long>(Count);
        if (_partitionPlusOne > 0)
        {
            map[_partitionPlusOne - 1] = _offset;
        }

        foreach (var (partition, offset) in _others ?? [])
        {
            map[partition] = offset;
        }

        return map;
    }
}
