using Confluent.Kafka;
using Kommune.Connectors.Kafka;

namespace Kommune.Engine.Tests.Support;

/// <summary>What records read from the state topic restore, the way a restore reads them (<see cref="StateRecordReader"/>).</summary>
internal static class StateTopicRecords
{
    /// <summary>Each key's restored state; a key whose records cannot be put together fails the test.</summary>
    public static Dictionary<string, RestoredState> Restore(IEnumerable<ConsumeResult<byte[]?, byte[]?>> records)
    {
        var reader = new StateRecordReader();
        foreach (var record in records)
        {
            reader.Add(record.Message.Key, record.Message.Value, record.Message.Headers, record.Partition.Value);
        }

        return reader.States((key, _, reason) => throw new InvalidDataException($"{key}: {reason}")).ToDictionary(s => s.Key);
    }
}
