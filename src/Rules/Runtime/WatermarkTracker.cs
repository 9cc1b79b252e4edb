namespace Kommune.Rules.Runtime;

/// <summary>
/// The engine's event-time clock. Each partition's watermark is its newest event time minus the out-of-orderness
/// bound; the engine's watermark is the minimum over the partitions that are not idle, and never goes back. A
/// partition is idle only when it is caught up (<see cref="SetCaughtUp"/>: no record of it waits to be read or
/// handled) and has had no event for <see cref="EventTimeSettings.IdlePartitionTimeout"/>, or has never had one: a
/// partition whose records wait, paused or not yet fetched, always holds the watermark back, so a pause in production
/// cannot make its backlog late. Not thread-safe: one reader owns it.
/// </summary>
internal sealed class WatermarkTracker
{
    private readonly EventTimeSettings _settings;
    private readonly Dictionary<int, PartitionTime> _partitions = [];

    // What the last full pass over the partitions found, so that an event of a partition that does not hold the minimum
    // need not look at every other partition: the minimum over the partitions not idle, the earliest time one of them
    // may turn idle by silence, and whether anything but an event changed since (a partition assigned, removed, or
    // caught up or not).
    private DateTimeOffset _minimum = DateTimeOffset.MaxValue;
    private DateTimeOffset _nextIdleAt = DateTimeOffset.MinValue;
    private bool _changed = true;

    /// <summary>A tracker with no partitions yet; its watermark starts at <see cref="DateTimeOffset.MinValue"/>.</summary>
    public WatermarkTracker(EventTimeSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        _settings = settings;
    }

    /// <summary>The engine's watermark.</summary>
    public DateTimeOffset Watermark { get; private set; } = DateTimeOffset.MinValue;

    /// <summary>Whether an event with this time is too late to use (older than the watermark minus the allowed lateness).</summary>
    public bool IsLate(DateTimeOffset eventTime) =>
        Watermark != DateTimeOffset.MinValue && eventTime < Watermark - _settings.AllowedLateness;

    /// <summary>
    /// Whether an event of <paramref name="partition"/> with this time is too late to use: older than that partition's
    /// watermark (<see cref="WatermarkOf"/>) minus the allowed lateness.
    /// </summary>
    public bool IsLate(int partition, DateTimeOffset eventTime, DateTimeOffset now)
    {
        var watermark = WatermarkOf(partition, now);
        return watermark != DateTimeOffset.MinValue && eventTime < watermark - _settings.AllowedLateness;
    }

    /// <summary>
    /// The watermark the keys of one partition go by: the engine's, except for a partition that is behind it (one that
    /// was assigned, with its backlog, after the engine's watermark had passed where it resumes: after a rebalance or a
    /// crash of another node), whose keys go by its own until it catches up, so that its backlog is neither judged late
    /// nor overtaken by its keys' timers. An idle partition goes by the engine's. Never goes back; the engine's watermark
    /// for a partition not tracked.
    /// </summary>
    public DateTimeOffset WatermarkOf(int partition, DateTimeOffset now)
    {
        if (!_partitions.TryGetValue(partition, out var known))
        {
            return Watermark;
        }

        var own = Idle(known, now) || known.Watermark >= Watermark ? Watermark : known.Watermark;
        if (own > known.Effective)
        {
            known.Effective = own;
        }

        return known.Effective;
    }

    /// <summary>Records an on-time event of a partition at wall-clock time <paramref name="now"/>.</summary>
    /// <returns>true when the engine's watermark advanced.</returns>
    public bool Observe(int partition, DateTimeOffset eventTime, DateTimeOffset now) => Observe(partition, eventTime, now, out _);

    /// <summary>
    /// Records an on-time event of a partition at wall-clock time <paramref name="now"/>, and gives the partition's own
    /// watermark after it (<see cref="PartitionWatermarkOf"/>).
    /// </summary>
    /// <returns>true when the engine's watermark advanced.</returns>
    public bool Observe(int partition, DateTimeOffset eventTime, DateTimeOffset now, out DateTimeOffset own)
    {
        var candidate = eventTime - _settings.OutOfOrderness;
        if (_partitions.TryGetValue(partition, out var known))
        {
            // Nothing else changed since the last pass and no partition can have turned idle since: if this one is not
            // idle and was above the minimum, raising it leaves the minimum, and so the engine's watermark, where they were.
            var minimumStays = !_changed && now < _nextIdleAt && known.Watermark > _minimum && !Idle(known, now);
            known.LastSeen = now;
            known.HadEvent = true;
            if (candidate > known.Watermark)
            {
                known.Watermark = candidate;
            }

            own = known.Watermark;
            if (minimumStays)
            {
                return false;
            }
        }
        else
        {
            _partitions[partition] = new PartitionTime { Watermark = candidate, LastSeen = now, HadEvent = true };
            own = candidate;
        }

        return Recompute(now);
    }

    /// <summary>
    /// Registers a partition that has no events yet: it holds the watermark back (so its first, possibly older,
    /// events are not judged late) until it reports an event or is known to be empty (caught up).
    /// </summary>
    /// <param name="partition">The partition.</param>
    /// <param name="now">Wall-clock time.</param>
    /// <param name="resumed">
    /// Whether it had events before this assignment (processed by this node before a restart, or by another node):
    /// caught up with no new event, it is then reported as going by the engine's watermark, not as one whose first
    /// events are still to come (<see cref="ReportedWatermarkOf"/>).
    /// </param>
    /// <param name="handedOver">
    /// The partition's own watermark as its previous owner left it at a clean hand-over (<see cref="PartitionWatermarkOf"/>
    /// there, once every event it had taken was handled), or null: the partition starts from it as if its events so far
    /// had been seen here, so a partition that gets no new event neither holds time back nor leaves the timers of its
    /// restored keys waiting.
    /// </param>
    /// <param name="restoredUpTo">
    /// The newest event time among the restored keys of the partition, or null: their events were processed before (by
    /// this node before a crash, or by another). Once the partition is caught up without having had an event here, no
    /// event of it is left to read again, so every event up to that time was handled and its records written: the
    /// partition then goes by that time less the out-of-orderness bound, as if it had seen it. Without it, a node
    /// restarted after a crash, with nothing left to read, never moved its partitions' time: the crashed node had not
    /// reported it, and area results waited for new events.
    /// </param>
    public void Assign(int partition, DateTimeOffset now, bool resumed = false, DateTimeOffset? handedOver = null, DateTimeOffset? restoredUpTo = null)
    {
        if (!_partitions.ContainsKey(partition))
        {
            _changed = true;
            _partitions[partition] = new PartitionTime
            {
                Watermark = handedOver ?? DateTimeOffset.MinValue,
                LastSeen = now,
                Resumed = resumed || handedOver is not null || restoredUpTo is not null,
                RestoredUpTo = restoredUpTo is { } newest && newest != DateTimeOffset.MinValue ? newest - _settings.OutOfOrderness : null,
            };
        }
    }

    /// <summary>
    /// The partition's own watermark (its newest event time minus the out-of-orderness bound, or what it was handed
    /// over with), not the engine's; null when it has had none or is not assigned.
    /// </summary>
    public DateTimeOffset? PartitionWatermarkOf(int partition) =>
        _partitions.TryGetValue(partition, out var known) && known.Watermark != DateTimeOffset.MinValue ? known.Watermark : null;

    /// <summary>
    /// Says whether every record of <paramref name="partition"/> that the broker holds has been read and handled
    /// (until told, it is not): only a caught-up partition can be idle. A partition assigned with its restored keys'
    /// time that is caught up before any event of it came takes that time as its own. Takes effect at the next
    /// <see cref="Refresh"/> or <see cref="Observe(int, DateTimeOffset, DateTimeOffset)"/>.
    /// </summary>
    public void SetCaughtUp(int partition, bool caughtUp)
    {
        if (_partitions.TryGetValue(partition, out var known) && known.CaughtUp != caughtUp)
        {
            known.CaughtUp = caughtUp;
            _changed = true;
            if (caughtUp && !known.HadEvent && known.RestoredUpTo is { } restored && restored > known.Watermark)
            {
                // Caught up without an event here: nothing of it is read again, so its restored keys' time is its own
                // (unless it was handed over with a later one).
                known.Watermark = restored;
            }
        }
    }

    /// <summary>Whether the partition is excluded from the minimum now (idle); false for one not assigned.</summary>
    public bool IsIdle(int partition, DateTimeOffset now) => _partitions.TryGetValue(partition, out var known) && Idle(known, now);

    /// <summary>
    /// How far event time has come on a partition, as told to other nodes (whose area rules take the minimum over every
    /// partition): null when it is caught up and has been silent for the idle timeout (since its last event, or since it
    /// was assigned); <see cref="DateTimeOffset.MinValue"/> while it has had no event and has not been silent that long
    /// (another node cannot see that its first events are still to come, as this node can), unless it was assigned as
    /// resumed (its events so far were processed before: a restart or a hand-over after its last event must not hold
    /// area time back for the idle timeout); otherwise <see cref="WatermarkOf"/>.
    /// </summary>
    public DateTimeOffset? ReportedWatermarkOf(int partition, DateTimeOffset now)
    {
        if (!_partitions.TryGetValue(partition, out var known))
        {
            return null;
        }

        if (known.CaughtUp && now - known.LastSeen > _settings.IdlePartitionTimeout)
        {
            return null;
        }

        return known.Watermark == DateTimeOffset.MinValue && !known.Resumed ? DateTimeOffset.MinValue : WatermarkOf(partition, now);
    }

    /// <summary>Drops idle partitions (caught up, and silent for the idle timeout or never heard from) from the minimum.</summary>
    /// <returns>true when the engine's watermark advanced.</returns>
    public bool Refresh(DateTimeOffset now) => Recompute(now);

    /// <summary>The partitions it tracks.</summary>
    public IReadOnlyCollection<int> Partitions => _partitions.Keys;

    /// <summary>Forgets a partition (revoked from this node).</summary>
    public void Remove(int partition) => _changed |= _partitions.Remove(partition);

    private bool Recompute(DateTimeOffset now)
    {
        var minimum = DateTimeOffset.MaxValue;
        var nextIdleAt = DateTimeOffset.MaxValue;
        foreach (var partition in _partitions.Values)
        {
            if (Idle(partition, now))
            {
                continue;
            }

            if (partition.Watermark < minimum)
            {
                minimum = partition.Watermark;
            }

            if (partition.CaughtUp && partition.LastSeen + _settings.IdlePartitionTimeout < nextIdleAt)
            {
                nextIdleAt = partition.LastSeen + _settings.IdlePartitionTimeout; // silent past this, it turns idle
            }
        }

        _minimum = minimum;
        _nextIdleAt = nextIdleAt;
        _changed = false;
        if (minimum == DateTimeOffset.MaxValue || minimum <= Watermark)
        {
            return false;
        }

        Watermark = minimum;
        return true;
    }

    private bool Idle(PartitionTime partition, DateTimeOffset now) =>
        partition.CaughtUp && (partition.Watermark == DateTimeOffset.MinValue || now - partition.LastSeen > _settings.IdlePartitionTimeout);

    private sealed class PartitionTime
    {
        public bool CaughtUp { get; set; }

        public DateTimeOffset Watermark { get; set; }

        /// <summary>Whether an event of it was observed since it was assigned.</summary>
        public bool HadEvent { get; set; }

        public DateTimeOffset LastSeen { get; set; }

        public DateTimeOffset Effective { get; set; } = DateTimeOffset.MinValue;

        public bool Resumed { get; init; }

        /// <summary>Its restored keys' newest event time less the out-of-orderness bound, or null.</summary>
        public DateTimeOffset? RestoredUpTo { get; init; }
    }
}
