using System.Text;
using Confluent.Kafka;
using Kommune.Connectors.Kafka;

namespace Kommune.Connectors.Tests;

/// <summary>A key's state of any size is written as records Kafka accepts and read back as it was.</summary>
public sealed class StateRecordFormatTests
{
    private static readonly Dictionary<int, long> Covers = new() { [2] = 41, [0] = 7 };

    [Fact]
    public void A_small_state_is_one_record_of_plain_json_with_its_covered_offsets()
    {
        var state = new StateRecord("sensor:s-1", "{\"rules\":[]}"u8.ToArray(), 3, Covers);

        var messages = StateRecordFormat.Encode(state, previousChunks: 0, out var chunks);

        var message = Assert.Single(messages);
        Assert.Equal(0, chunks);
        Assert.Equal(state.Value, message.Value);
        Assert.False(message.Headers.TryGetLastBytes(StateRecordFormat.EncodingHeader, out _));
        var restored = Assert.Single(ReadBack(messages, 3));
        Assert.Equal(state.Value, restored.Value);
        Assert.Equal(Covers, restored.Covers);
        Assert.Equal(0, restored.Chunks);
    }

    [Fact]
    public void A_large_compressible_state_is_compressed_into_one_record()
    {
        var json = Encoding.UTF8.GetBytes("{\"windows\":[" + string.Join(',', Enumerable.Range(0, 40_000).Select(i => $"{{\"start\":{i},\"sum\":1.5}}")) + "]}");
        Assert.True(json.Length > StateRecordFormat.ChunkBytes);

        var messages = StateRecordFormat.Encode(new StateRecord("area:a", json, 0), 0, out var chunks);

        var message = Assert.Single(messages);
        Assert.Equal(0, chunks);
        Assert.True(message.Value!.Length < json.Length / 4, $"{message.Value.Length} bytes compressed from {json.Length}");
        Assert.Equal(json, Assert.Single(ReadBack(messages, 0)).Value);
    }

    [Fact]
    public void A_state_larger_than_a_record_may_be_is_split_into_chunks_each_under_the_limit_and_put_together_again()
    {
        var value = Incompressible(2_300_000);

        var messages = StateRecordFormat.Encode(new StateRecord("sensor:meter-1", value, 1, Covers), 0, out var chunks);

        Assert.Equal(5, chunks);
        Assert.Equal(6, messages.Count);
        Assert.All(messages, m => Assert.True((m.Value?.Length ?? 0) <= StateRecordFormat.ChunkBytes));
        Assert.Equal("sensor:meter-1", Encoding.UTF8.GetString(messages[^1].Key!)); // the key's own record comes last
        var restored = Assert.Single(ReadBack(messages, 1));
        Assert.Equal(value, restored.Value);
        Assert.Equal(5, restored.Chunks);
        Assert.Equal(Covers, restored.Covers);
    }

    [Fact]
    public void A_state_that_shrinks_deletes_the_chunks_it_no_longer_uses_and_reads_back_as_the_new_one()
    {
        var big = StateRecordFormat.Encode(new StateRecord("sensor:m", Incompressible(1_600_000), 0), 0, out var bigChunks);
        var smaller = StateRecordFormat.Encode(new StateRecord("sensor:m", Incompressible(700_000, seed: 2), 0), bigChunks, out var smallerChunks);
        var tiny = StateRecordFormat.Encode(new StateRecord("sensor:m", "{}"u8.ToArray(), 0), smallerChunks, out _);

        Assert.Equal(4, bigChunks);
        Assert.Equal(2, smallerChunks);
        Assert.Equal(2, smaller.Count(m => m.Value is null)); // chunks 2 and 3 of the big one
        Assert.Equal(2, tiny.Count(m => m.Value is null));
        var reader = new StateRecordReader();
        foreach (var m in big.Concat(smaller).Concat(tiny))
        {
            reader.Add(m.Key, m.Value, m.Headers, 0);
        }

        var restored = Assert.Single(reader.States((_, _, reason) => Assert.Fail(reason)));
        Assert.Equal("{}"u8.ToArray(), restored.Value);
    }

    [Fact]
    public void Chunks_of_another_version_of_the_state_are_never_mixed_in()
    {
        var first = StateRecordFormat.Encode(new StateRecord("sensor:m", Incompressible(1_200_000), 0), 0, out _);
        var second = StateRecordFormat.Encode(new StateRecord("sensor:m", Incompressible(1_200_000, seed: 9), 0), 3, out _);
        // The second version's chunk 1 is lost (say, its write failed): the key's record names chunks that are not there.
        var records = first.Concat(second.Where(m => !Encoding.UTF8.GetString(m.Key!).EndsWith("\u001f1", StringComparison.Ordinal))).ToList();
        var reader = new StateRecordReader();
        records.ForEach(m => reader.Add(m.Key, m.Value, m.Headers, 0));
        var unreadable = new List<string>();

        var restored = reader.States((key, _, reason) => unreadable.Add($"{key}: {reason}")).ToList();

        Assert.Empty(restored);
        Assert.Contains(unreadable, u => u.Contains("chunk 1 of 3 of the version its record names is missing", StringComparison.Ordinal));
    }

    [Fact]
    public void A_record_that_covers_less_than_an_earlier_one_of_its_key_was_written_late_and_is_passed_over()
    {
        // A node that lost partition 3 wrote the key's state once more after its new owner had written a newer one.
        var reader = new StateRecordReader();
        Add(reader, new StateRecord("sensor:a", "{\"v\":1}"u8.ToArray(), 3, new Dictionary<int, long> { [3] = 450 }));
        Add(reader, new StateRecord("sensor:a", "{\"v\":2}"u8.ToArray(), 3, new Dictionary<int, long> { [3] = 500 }));
        Add(reader, new StateRecord("sensor:a", "{\"v\":1}"u8.ToArray(), 3, new Dictionary<int, long> { [3] = 450 }));
        Add(reader, new StateRecord("sensor:b", "{\"v\":1}"u8.ToArray(), 3, new Dictionary<int, long> { [3] = 600 }));
        Add(reader, new StateRecord("sensor:b", null, 3, new Dictionary<int, long> { [3] = 590 }));

        var restored = reader.States((_, _, reason) => Assert.Fail(reason)).OrderBy(r => r.Key).ToList();

        Assert.Equal(["sensor:a", "sensor:b"], restored.Select(r => r.Key));
        Assert.Equal("{\"v\":2}"u8.ToArray(), restored[0].Value);
        Assert.Equal(500, restored[0].Covers[3]);
        Assert.Equal(600, restored[1].Covers[3]); // a late tombstone does not remove a state that covers more
        Assert.Equal(2, reader.Stale);
    }

    [Fact]
    public void Of_records_that_cover_the_same_input_the_newest_wins_and_a_tombstone_that_covers_more_removes_the_key()
    {
        // The same input with timers fired since (the state changes without new input), then the key deleted.
        var reader = new StateRecordReader();
        Add(reader, new StateRecord("area:x", "{\"v\":1}"u8.ToArray(), 0, new Dictionary<int, long> { [0] = 10 }));
        Add(reader, new StateRecord("area:x", "{\"v\":2}"u8.ToArray(), 0, new Dictionary<int, long> { [0] = 10 }));
        Add(reader, new StateRecord("area:y", "{\"v\":1}"u8.ToArray(), 0, new Dictionary<int, long> { [0] = 11 }));
        Add(reader, new StateRecord("area:y", null, 0, new Dictionary<int, long> { [0] = 12 }));

        var restored = Assert.Single(reader.States((_, _, reason) => Assert.Fail(reason)));

        Assert.Equal("{\"v\":2}"u8.ToArray(), restored.Value);
        Assert.Equal(0, reader.Stale);
    }

    [Fact]
    public void A_chunked_state_written_late_leaves_the_newer_chunked_state_readable()
    {
        var older = StateRecordFormat.Encode(new StateRecord("sensor:m", Incompressible(1_200_000), 0, new Dictionary<int, long> { [0] = 5 }), 0, out _);
        var newer = StateRecordFormat.Encode(new StateRecord("sensor:m", Incompressible(1_100_000, seed: 4), 0, new Dictionary<int, long> { [0] = 9 }), 3, out _);
        var reader = new StateRecordReader();

        foreach (var m in older.Concat(newer).Concat(older))
        {
            reader.Add(m.Key, m.Value, m.Headers, 0);
        }

        var restored = Assert.Single(reader.States((_, _, reason) => Assert.Fail(reason)));
        Assert.Equal(Incompressible(1_100_000, seed: 4), restored.Value);
        Assert.Equal(1, reader.Stale);
    }

    [Fact]
    public void A_record_written_late_between_a_newer_versions_chunks_and_its_record_leaves_that_version_readable()
    {
        var older = StateRecordFormat.Encode(new StateRecord("sensor:m", Incompressible(1_200_000), 0, new Dictionary<int, long> { [0] = 5 }), 0, out _);
        var newer = StateRecordFormat.Encode(new StateRecord("sensor:m", Incompressible(1_100_000, seed: 4), 0, new Dictionary<int, long> { [0] = 9 }), 3, out _);
        var late = StateRecordFormat.Encode(new StateRecord("sensor:m", "{}"u8.ToArray(), 0, new Dictionary<int, long> { [0] = 4 }), 0, out _);
        var reader = new StateRecordReader();

        // The new owner's chunks, then the old owner's late record, then the new owner's record.
        foreach (var m in older.Concat(newer.SkipLast(1)).Concat(late).Concat(newer.TakeLast(1)))
        {
            reader.Add(m.Key, m.Value, m.Headers, 0);
        }

        var restored = Assert.Single(reader.States((_, _, reason) => Assert.Fail(reason)));
        Assert.Equal(Incompressible(1_100_000, seed: 4), restored.Value);
        Assert.Equal(1, reader.Stale);
    }

    private static void Add(StateRecordReader reader, StateRecord state)
    {
        foreach (var m in StateRecordFormat.Encode(state, 0, out _))
        {
            reader.Add(m.Key, m.Value, m.Headers, state.Partition);
        }
    }

    [Fact]
    public void A_tombstone_removes_the_key_and_the_newest_record_wins()
    {
        var reader = new StateRecordReader();
        reader.Add("sensor:a"u8.ToArray(), "{\"v\":1}"u8.ToArray(), null, 0);
        reader.Add("sensor:b"u8.ToArray(), "{\"v\":1}"u8.ToArray(), null, 0);
        reader.Add("sensor:a"u8.ToArray(), "{\"v\":2}"u8.ToArray(), null, 0);
        reader.Add("sensor:b"u8.ToArray(), null, null, 0);

        var restored = Assert.Single(reader.States((_, _, reason) => Assert.Fail(reason)));
        Assert.Equal("sensor:a", restored.Key);
        Assert.Equal("{\"v\":2}"u8.ToArray(), restored.Value);
        Assert.Equal(4, reader.Records);
    }

    [Fact]
    public void The_ledger_keeps_only_keys_with_chunks()
    {
        var ledger = new StateChunkLedger();
        ledger.Restored("sensor:a", 3);
        ledger.Restored("sensor:b", 0);
        Assert.Equal(1, ledger.Count);
        Assert.Equal(3, ledger.Get("sensor:a"));
        ledger.Set("sensor:a", 0);
        Assert.Equal(0, ledger.Count);
    }

    private static List<RestoredState> ReadBack(IEnumerable<Message<byte[]?, byte[]?>> messages, int partition)
    {
        var reader = new StateRecordReader();
        foreach (var m in messages)
        {
            reader.Add(m.Key, m.Value, m.Headers, partition);
        }

        return [.. reader.States((key, _, reason) => Assert.Fail($"{key}: {reason}"))];
    }

    private static byte[] Incompressible(int size, int seed = 1)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
