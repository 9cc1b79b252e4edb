namespace Kommune.Engine;

/// <summary>A snapshot of what the engine has done since it started.</summary>
/// <param name="Consumed">Records read from the sensor-events topic.</param>
/// <param name="Processed">Events whose rules ran and whose outputs the broker acknowledged.</param>
/// <param name="DeadLettered">Records sent to the dead-letter topic (bad input and rule failures).</param>
/// <param name="Alerts">Alert records acknowledged by the broker.</param>
/// <param name="Aggregates">Aggregate records acknowledged by the broker.</param>
/// <param name="RuleFailures">Times a rule threw.</param>
/// <param name="LostRecords">Records deleted by the broker before the engine read them.</param>
/// <param name="Processing">Events taken and not yet released: being processed (bounded by MaxInFlightEvents).</param>
/// <param name="PeakProcessing">The most events being processed at once.</param>
/// <param name="Pauses">Times the consumer paused because the engine fell behind.</param>
/// <param name="ActiveSensors">Sensor actors alive now.</param>
/// <param name="ActiveAreas">Area actors alive now.</param>
/// <param name="AssignedPartitions">Input partitions assigned to this node.</param>
/// <param name="LateEvents">Events older than the watermark minus the allowed lateness, sent to the late output.</param>
/// <param name="PluginFailures">Plugins that failed to load (at start and on reloads).</param>
/// <param name="RuleReloads">Times the rules were reloaded without a restart.</param>
/// <param name="Watermark">The engine's event-time watermark (<see cref="DateTimeOffset.MinValue"/> before the first event).</param>
/// <param name="Commands">Operations centres' commands (ack, resolve) handled.</param>
/// <param name="CommandsRefused">Commands dead-lettered: malformed, or for no open alert (also in <paramref name="DeadLettered"/>).</param>
/// <param name="StateWritten">State records (snapshots and tombstones) acknowledged by the broker.</param>
/// <param name="StateRestored">Keys whose state was restored from the state topic.</param>
/// <param name="EpochsCommitted">Exactly-once mode: transactions committed (outputs, state and offsets of an epoch each).</param>
/// <param name="Restarts">Exactly-once mode: times an epoch's transaction was aborted and the node restarted from the last committed one.</param>
/// <param name="PeakAwaitingCommit">The most events taken and not yet complete at once, their offsets not yet committable (being processed, or waiting for their state to be acknowledged).</param>
public sealed record EngineStatistics(
    long Consumed,
    long Processed,
    long DeadLettered,
    long Alerts,
    long Aggregates,
    long RuleFailures,
    long LostRecords,
    long Processing,
    long PeakProcessing,
    long Pauses,
    long ActiveSensors,
    long ActiveAreas,
    int AssignedPartitions,
    long LateEvents,
    long PluginFailures,
    long RuleReloads,
    DateTimeOffset Watermark,
    long Commands,
    long CommandsRefused,
    long StateWritten = 0,
    long StateRestored = 0,
    long PeakAwaitingCommit = 0,
    long EpochsCommitted = 0,
    long Restarts = 0);
