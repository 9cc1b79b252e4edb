using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Kommune.Connectors.Kafka;
using Kommune.Engine.Tests.Support;
using Kommune.Rules.Api;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>
/// A state of kilobytes (an energy meter's detector) is written as what changed since its base, a new base once the
/// changes reach half of it, and a restarted engine restores it whole from the base and the newest delta.
/// </summary>
[Collection(KafkaLanes.First)]
public sealed class StateDeltaTests(ITestOutputHelper output)
{
    private const string Ledger = "ledger";
    private const string StateKey = "sensor:ledger-1";

    [Fact]
    public async Task A_large_state_is_written_as_deltas_of_a_base_and_restored_whole_after_a_restart()
    {
        using var bed = new KafkaTestBed(output, partitions: 1);
        var rules = new RuleSet([new RuleBinding(Ledger, new LedgerRule())]);
        // Each event is checkpointed on its own (the test waits for its commit): a tick changes two numbers of a 3 KB
        // state, a rewrite its whole table. Two deltas of the first base come before the rewrite, so that base paid for
        // itself and the rewrite starts a new one (the test below: one that did not is written whole instead).
        string[] steps = ["tick", "tick", "tick", "rewrite", "tick", "tick"];
        await using (var first = await bed.StartEngineAsync(Options, rules))
        {
            for (var i = 0; i < steps.Length; i++)
            {
                bed.ProduceEvent(Step(i + 1, steps[i]));
                bed.Flush();
                await KafkaTestBed.WaitUntilAsync(() => bed.CommittedAndEnd(bed.Options.GroupId, bed.Options.Topics.SensorEvents) is var (c, e) && c == e);
            }

            await first.StopAsync();
        }

        // Read through the graceful stop's hand-over mark; what the engine wrote while it ran is before where it says.
        var all = bed.ReadUntil(bed.Options.Topics.State, r => r.Any(m => StateHandOverMark.IsMark(m.Message.Key)));
        Assert.True(StateHandOverMark.TryRead(all[^1].Message.Value, out var handOver));
        var records = all.Where(m => m.Offset.Value < handOver).ToList();
        var heads = records.Where(m => Key(m) == StateKey).ToList();
        Assert.Equal(steps.Length, heads.Count);
        var bases = records.Where(m => Key(m).StartsWith(StateKey + StateRecordFormat.ChunkSeparator, StringComparison.Ordinal)).ToList();
        Assert.Equal([StateKey + "\u001fb0", StateKey + "\u001fb1"], bases.Select(Key)); // the first state, then the rewrite's
        Assert.All(heads, h => Assert.True(h.Message.Headers.TryGetLastBytes(StateRecordFormat.DeltaOfHeader, out _)));
        var baseLength = bases[0].Message.Value!.Length;
        Assert.True(baseLength >= StateRecordFormat.DeltaFrom, $"a base of {baseLength} bytes");
        Assert.All(heads, h => Assert.True(h.Message.Value!.Length < baseLength / 2, $"a delta of {h.Message.Value!.Length} bytes against a base of {baseLength}"));

        // The hand-over wrote the state whole, and base 1 with the newest delta before it is that same state.
        var whole = Assert.Single(all, m => m.Offset.Value >= handOver && Key(m) == StateKey);
        Assert.False(whole.Message.Headers.TryGetLastBytes(StateRecordFormat.DeltaOfHeader, out _));
        Assert.Equal(Encoding.UTF8.GetString(whole.Message.Value!), Encoding.UTF8.GetString(StateTopicRecords.Restore(records)[StateKey].Value));

        // The restarted engine restores the state (from the mark: the whole record): the ticks and the table go on.
        await using var second = await bed.StartEngineAsync(Options, rules);
        bed.ProduceEvent(Step(steps.Length + 1, "tick"));
        bed.Flush();
        var totals = bed.ReadUntil(bed.Options.Topics.Aggregates, r => r.Count >= steps.Length + 1)
            .Select(r => JsonDocument.Parse(r.Message.Value).RootElement)
            .Select(a => (Value: a.GetProperty("value").GetDouble(), Count: a.GetProperty("count").GetInt64()))
            .ToList();
        Assert.Equal(1, second.Statistics.StateRestored);
        Assert.Equal(6, totals[^1].Count); // six ticks: five before the restart, one after
        Assert.Equal(LedgerRule.TableSum(4), totals[^1].Value - totals[^1].Count, precision: 6); // the rewrite's table

        // Its first write takes a new base: the restored record named none, so slot 0.
        var afterRestart = bed.ReadUntil(bed.Options.Topics.State, r => r.Count(m => Key(m) == StateKey) > heads.Count + 1);
        Assert.Equal(StateKey + "\u001fb0", Key(afterRestart.Last(m => Key(m).StartsWith(StateKey + StateRecordFormat.ChunkSeparator, StringComparison.Ordinal))));
        Assert.StartsWith("0:", Encoding.ASCII.GetString(afterRestart.Last(m => Key(m) == StateKey).Message.Headers.GetLastBytes(StateRecordFormat.DeltaOfHeader)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_state_whose_changes_outgrow_every_base_at_once_is_written_whole_and_its_base_deleted()
    {
        using var bed = new KafkaTestBed(output, partitions: 1);
        var rules = new RuleSet([new RuleBinding(Ledger, new LedgerRule())]);
        // Every event rewrites the whole table: the second state's delta would be over half of it right after its base.
        const int Rewrites = 4;
        await using (var first = await bed.StartEngineAsync(Options, rules))
        {
            for (var i = 1; i <= Rewrites; i++)
            {
                bed.ProduceEvent(Step(i + 10, "rewrite"));
                bed.Flush();
                await KafkaTestBed.WaitUntilAsync(() => bed.CommittedAndEnd(bed.Options.GroupId, bed.Options.Topics.SensorEvents) is var (c, e) && c == e);
            }

            await first.StopAsync();
        }

        var records = bed.ReadUntil(bed.Options.Topics.State, r => r.Count(m => Key(m) == StateKey) >= Rewrites);
        var heads = records.Where(m => Key(m) == StateKey).ToList();
        Assert.True(heads[0].Message.Headers.TryGetLastBytes(StateRecordFormat.DeltaOfHeader, out _)); // the first: a base and its delta
        Assert.All(heads.Skip(1), h => Assert.False(h.Message.Headers.TryGetLastBytes(StateRecordFormat.DeltaOfHeader, out _)));
        var bases = records.Where(m => Key(m).StartsWith(StateKey + StateRecordFormat.ChunkSeparator, StringComparison.Ordinal)).ToList();
        Assert.Equal([(StateKey + "\u001fb0", true), (StateKey + "\u001fb0", false), (StateKey + "\u001fb1", false)], bases.Select(b => (Key(b), b.Message.Value is not null)));

        // Restored from the newest whole record: the table is the last rewrite's.
        await using var second = await bed.StartEngineAsync(Options, rules);
        bed.ProduceEvent(Step(99, "tick"));
        bed.Flush();
        var total = bed.ReadUntil(bed.Options.Topics.Aggregates, r => r.Count >= Rewrites + 1)
            .Select(r => JsonDocument.Parse(r.Message.Value).RootElement)
            .Select(a => (Value: a.GetProperty("value").GetDouble(), Count: a.GetProperty("count").GetInt64()))
            .Last();
        Assert.Equal(1, second.Statistics.StateRestored);
        Assert.Equal(1, total.Count);
        Assert.Equal(LedgerRule.TableSum(Rewrites + 10), total.Value - total.Count, precision: 6);
    }

    private static void Options(EngineOptions o)
    {
        o.StateInterval = TimeSpan.FromMilliseconds(100);
        o.StateDeltas = true;
    }

    private static string Key(ConsumeResult<byte[]?, byte[]?> record) => Encoding.UTF8.GetString(record.Message.Key!);

    private static SensorEvent Step(int seed, string kind) =>
        new("ledger-1", "sagene", Ledger, Events.T0.AddSeconds(seed), new Dictionary<string, SensorValue>
        {
            ["seed"] = seed,
            ["rewrite"] = kind == "rewrite" ? 1 : 0,
        });

    /// <summary>What the ledger rule keeps: a table of 300 numbers (about 3 KB of state) and a tick count.</summary>
    public sealed class LedgerState
    {
        /// <summary>How many ticks were counted.</summary>
        public long Ticks { get; set; }

        /// <summary>The newest event's seed.</summary>
        public double Last { get; set; }

        /// <summary>The table, rewritten by a rewrite event.</summary>
        public double[] Table { get; set; } = [];
    }

    /// <summary>Counts ticks and rewrites its table on a rewrite; emits the ticks plus the table's sum.</summary>
    private sealed class LedgerRule : Rule
    {
        public override IReadOnlyCollection<string> SensorTypes { get; } = [Ledger];

        public static double[] Table(int seed)
        {
            var random = new Random(seed);
            return [.. Enumerable.Range(0, 300).Select(_ => random.NextDouble())];
        }

        public static double TableSum(int seed) => Table(seed).Sum();

        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
        {
            var state = context.State<LedgerState>("ledger");
            var ledger = state.Value ?? new LedgerState { Table = Table(1) };
            sensorEvent.TryGetNumber("seed", out var seed);
            sensorEvent.TryGetNumber("rewrite", out var rewrite);
            if (rewrite > 0)
            {
                ledger.Table = Table((int)seed);
            }
            else
            {
                ledger.Ticks++;
            }

            ledger.Last = seed;
            state.Update(ledger);
            context.EmitAggregate("ledger.total", sensorEvent.Timestamp, sensorEvent.Timestamp.AddSeconds(1), ledger.Ticks + ledger.Table.Sum(), ledger.Ticks);
        }
    }
}
