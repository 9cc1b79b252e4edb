namespace Kommune.Connectors.Broker;

/// <summary>Kafka protocol API keys, for injecting request errors into the embedded broker.</summary>
public enum KafkaApi : short
{
    /// <summary>Produce requests.</summary>
    Produce = 0,

    /// <summary>Fetch requests.</summary>
    Fetch = 1,

    /// <summary>ListOffsets requests.</summary>
    ListOffsets = 2,

    /// <summary>Metadata requests.</summary>
    Metadata = 3,

    /// <summary>OffsetCommit requests.</summary>
    OffsetCommit = 8,

    /// <summary>OffsetFetch requests.</summary>
    OffsetFetch = 9,

    /// <summary>FindCoordinator requests.</summary>
    FindCoordinator = 10,

    /// <summary>JoinGroup requests.</summary>
    JoinGroup = 11,

    /// <summary>Heartbeat requests.</summary>
    Heartbeat = 12,

    /// <summary>SyncGroup requests.</summary>
    SyncGroup = 14,

    /// <summary>InitProducerId requests.</summary>
    InitProducerId = 22,

    /// <summary>AddPartitionsToTxn requests.</summary>
    AddPartitionsToTxn = 24,

    /// <summary>EndTxn requests.</summary>
    EndTxn = 26,

    /// <summary>TxnOffsetCommit requests.</summary>
    TxnOffsetCommit = 28,
}
