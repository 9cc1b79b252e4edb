using System.Text;
using System.Text.Json;
using Kommune.Connectors.Kafka;
using Kommune.Engine.Tests.Support;
using Kommune.Rules.Api;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>A key's state larger than the broker takes in one record is written (compressed, in chunks) and restored.</summary>
[Collection(KafkaLanes.First)]
public sealed class LargeStateTests(ITestOutputHelper output)
{
    private const string Hoard = "hoard";

    [Fact]
    public async Task A_state_that_grows_past_the_record_limit_is_written_in_chunks_and_restored_after_a_restart()
    {
        using var bed = new KafkaTestBed(output, partitions: 1);
        var rules = new RuleSet([new RuleBinding(Hoard, new HoardRule())]);
        void Options(EngineOptions o) => o.StateInterval = TimeSpan.FromMilliseconds(200);

        // Four pieces of 300,000 random bytes (400,000 characters of base64 each): 1.6 MB of state that compresses
        // poorly, more than one record may hold.
        await using (var first = await bed.StartEngineAsync(Options, rules))
        {
            for (var i = 1; i <= 4; i++)
            {
                bed.ProduceEvent(Piece(i, 300_000));
            }

            bed.Flush();
            var totals = ReadTotals(bed, 4);
            Assert.Equal(1_600_000, totals[^1].Chars);
            await KafkaTestBed.WaitUntilAsync(() => bed.CommittedAndEnd(bed.Options.GroupId, bed.Options.Topics.SensorEvents) is var (c, e) && c == e);
            await first.StopAsync();
        }

        var stateRecords = bed.ReadUntil(bed.Options.Topics.State, r => r.Any(m => !Encoding.UTF8.GetString(m.Message.Key!).Contains('\u001f', StringComparison.Ordinal)));
        var chunks = stateRecords.Where(r => Encoding.UTF8.GetString(r.Message.Key!).Contains(StateRecordFormat.ChunkSeparator, StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(chunks);
        Assert.All(stateRecords, r => Assert.True((r.Message.Value?.Length ?? 0) <= StateRecordFormat.ChunkBytes));

        // A new engine restores the 1.6 MB state before the fifth piece, so the total goes on from it.
        await using var second = await bed.StartEngineAsync(Options, rules);
        bed.ProduceEvent(Piece(5, 3));
        bed.Flush();
        var after = ReadTotals(bed, 5);
        Assert.Equal(1, second.Statistics.StateRestored);
        Assert.Equal((1_600_000 + 4, 5), (after[^1].Chars, after[^1].Pieces));
    }

    private static SensorEvent Piece(int seed, int bytes) =>
        new("hoarder-1", "sagene", Hoard, Events.T0.AddSeconds(seed), new Dictionary<string, SensorValue>
        {
            ["seed"] = seed,
            ["bytes"] = bytes,
        });

    private static List<(double Chars, long Pieces)> ReadTotals(KafkaTestBed bed, int pieces) =>
        [.. bed.ReadUntil(bed.Options.Topics.Aggregates, r => r.Count >= pieces)
            .Select(r => JsonDocument.Parse(r.Message.Value).RootElement)
            .Select(a => (a.GetProperty("value").GetDouble(), a.GetProperty("count").GetInt64()))];

    /// <summary>Keeps every piece of random bytes its events ask for, and emits the total characters kept.</summary>
    private sealed class HoardRule : Rule
    {
        public override IReadOnlyCollection<string> SensorTypes { get; } = [Hoard];

        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
        {
            var state = context.State<List<string>>("pieces");
            var pieces = state.Value ?? [];
            sensorEvent.TryGetNumber("bytes", out var size);
            sensorEvent.TryGetNumber("seed", out var seed);
            var bytes = new byte[(int)size];
            new Random((int)seed).NextBytes(bytes);
            pieces.Add(Convert.ToBase64String(bytes));
            state.Update(pieces);
            context.EmitAggregate("hoard.chars", sensorEvent.Timestamp, sensorEvent.Timestamp.AddSeconds(1), pieces.Sum(p => p.Length), pieces.Count);
        }
    }
}
