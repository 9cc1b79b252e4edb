namespace Kommune.Engine;

/// <summary>
/// A snapshot of what the engine has done since it started (<see cref="KommuneEngine.Statistics"/>). Built with named,
/// required properties: a count added here is a compile error where the snapshot is made, never a shifted argument.
/// </summary>
public sealed record EngineStatistics
{
    /// <summary>Records read from the sensor-events topic.</summary>
    public required long Consumed { get; init; }

    /// <summary>Records deleted by the broker before the engine read them.</summary>
    public required long LostRecords { get; init; }

    /// <summary>Input partitions assigned to this node.</summary>
    public required int AssignedPartitions { get; init; }

    /// <summary>Events older than the watermark minus the allowed lateness, sent to the late output.</summary>
    public required long LateEvents { get; init; }

    /// <summary>The engine's event-time watermark (<see cref="DateTimeOffset.MinValue"/> before the first event).</summary>
    public required DateTimeOffset Watermark { get; init; }

    /// <summary>Events whose rules ran and whose outputs the broker acknowledged.</summary>
    public required long Processed { get; init; }

    /// <summary>Events taken and not yet released: being processed (bounded by MaxInFlightEvents).</summary>
    public required long Processing { get; init; }

    /// <summary>The most events being processed at once.</summary>
    public required long PeakProcessing { get; init; }

    /// <summary>
    /// The most events taken and not yet complete at once, their offsets not yet committable (being processed, or
    /// waiting for their state to be acknowledged).
    /// </summary>
    public required long PeakAwaitingCommit { get; init; }

    /// <summary>Times the consumer paused because the engine fell behind.</summary>
    public required long Pauses { get; init; }

    /// <summary>
    /// Times the consumer was paused with events awaiting commit and the changed state they waited for was written
    /// before its checkpoint interval was up, so that the pause ended sooner.
    /// </summary>
    public required long StateWritesAsked { get; init; }

    /// <summary>Sensor actors alive now.</summary>
    public required long ActiveSensors { get; init; }

    /// <summary>Area actors alive now.</summary>
    public required long ActiveAreas { get; init; }

    /// <summary>Sensors kept as their state's bytes, without an actor, until an event, timer, command or hand-over needs them: restored ones, and idle ones that fell asleep.</summary>
    public required long DormantSensors { get; init; }

    /// <summary>Alert records acknowledged by the broker.</summary>
    public required long Alerts { get; init; }

    /// <summary>Aggregate records acknowledged by the broker.</summary>
    public required long Aggregates { get; init; }

    /// <summary>Records sent to the dead-letter topic (bad input and rule failures).</summary>
    public required long DeadLettered { get; init; }

    /// <summary>Times a rule threw.</summary>
    public required long RuleFailures { get; init; }

    /// <summary>Plugins that failed to load (at start and on reloads).</summary>
    public required long PluginFailures { get; init; }

    /// <summary>Times the rules were reloaded without a restart.</summary>
    public required long RuleReloads { get; init; }

    /// <summary>Operations centres' commands (ack, resolve) handled.</summary>
    public required long Commands { get; init; }

    /// <summary>Commands dead-lettered: malformed, or for no open alert (also in <see cref="DeadLettered"/>).</summary>
    public required long CommandsRefused { get; init; }

    /// <summary>Times the reader of commands failed (its log says why) and read on with a new consumer.</summary>
    public required long CommandReaderFailures { get; init; }

    /// <summary>State records (snapshots and tombstones) acknowledged by the broker.</summary>
    public required long StateWritten { get; init; }

    /// <summary>Keys whose state was restored from the state topic.</summary>
    public required long StateRestored { get; init; }

    /// <summary>Exactly-once mode: transactions committed (outputs, state and offsets of an epoch each).</summary>
    public required long EpochsCommitted { get; init; }

    /// <summary>Exactly-once mode: times an epoch's transaction was aborted and the node restarted from the last committed one.</summary>
    public required long Restarts { get; init; }
}
