using Confluent.Kafka;
using Kommune.Connectors.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Kommune.Connectors.Tests;

/// <summary>
/// The epoch committer's decisions that come before any consumer is asked: whether there is an epoch to commit, and
/// when it aborts. Committing itself, with the consumers' offsets and group metadata, runs against the embedded broker
/// in the engine's exactly-once tests.
/// </summary>
public sealed class EpochOffsetCommitterTests
{
    private static readonly TopicPartition P0 = new("kommune.sensor-events", 0);

    private readonly RecordingCommitter _committer = new();
    private readonly Dictionary<TopicPartition, PartitionOffsetTracker> _trackers = [];
    private readonly BackpressureGate _gate = new(maxProcessing: 10);
    private bool _settled = true;

    private EpochOffsetCommitter NewEpochs(SourceTransactions? transactions = null, Action? writeStateNow = null, TimeProvider? clock = null, Action<int, long, Action>? writeBeforeCommit = null) => new(
        transactions ?? new SourceTransactions { Committer = _committer, Settled = () => _settled },
        "kommune.repartition",
        _trackers,
        _gate,
        new PartitionMonitor(TimeSpan.FromMinutes(2)),
        writeStateNow,
        NullLogger.Instance,
        clock,
        P0.Topic,
        writeBeforeCommit);

    /// <summary>A group consumer that never connects: the commit reads its group metadata, nothing else.</summary>
    private static IConsumer<byte[]?, byte[]?> UnconnectedConsumer() =>
        new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig { BootstrapServers = "127.0.0.1:1", GroupId = "g" }).Build();

    [Fact]
    public void An_epoch_with_nothing_done_sent_or_awaiting_commit_commits_nothing_and_asks_no_consumer()
    {
        var epochs = NewEpochs();
        _trackers[P0] = new PartitionOffsetTracker(P0.Topic, 0, 40);
        _trackers[P0].TryTakeCommittable(out _); // the start offset, taken by an earlier epoch

        epochs.Commit(consumer: null!, internalConsumer: null!, TimeSpan.FromSeconds(30));

        Assert.Equal((0, 0, 0L), (_committer.Holds, _committer.Commits, epochs.EpochsCommitted));
    }

    [Fact]
    public void An_epoch_with_nothing_taken_or_sent_but_unwritten_state_asks_for_it_and_commits_it()
    {
        // A timer changed a key's state and nothing else happened: exactly-once writes changed state when an epoch asks,
        // so an epoch must run for it, or the state would wait for the next record.
        var asks = 0;
        var epochs = NewEpochs(writeStateNow: () =>
        {
            asks++;
            _committer.Sent = true; // the state record
            _settled = true;
        });
        _settled = false;
        using var consumer = UnconnectedConsumer();

        epochs.Commit(consumer, consumer, TimeSpan.FromSeconds(30));

        Assert.Equal((1, 1, 1L), (asks, _committer.Commits, epochs.EpochsCommitted));
    }

    [Fact]
    public void An_epoch_that_does_not_settle_in_time_aborts_and_says_how_many_events_are_not_complete()
    {
        var epochs = NewEpochs();
        _gate.Taken();
        _gate.Taken();

        var aborted = Assert.Throws<EpochAbortedException>(() => epochs.Commit(null!, null!, TimeSpan.Zero));

        Assert.Contains("did not settle within 0 s (2 events not complete)", aborted.Message, StringComparison.Ordinal);
        Assert.Equal(0, _committer.Commits);
    }

    [Fact]
    public void An_engine_that_has_not_settled_holds_the_epoch_back_even_with_nothing_awaiting_commit()
    {
        var epochs = NewEpochs();
        _committer.Sent = true;
        _settled = false;

        Assert.Throws<EpochAbortedException>(() => epochs.Commit(null!, null!, TimeSpan.Zero));
        Assert.Equal(1, _committer.Holds);
    }

    [Fact]
    public void Partitions_lost_during_the_epoch_abort_it_once_naming_them()
    {
        var epochs = NewEpochs();
        epochs.AbortIfPartitionsLost(); // nothing lost: nothing happens

        epochs.PartitionsLost([2, 0]);
        var aborted = Assert.Throws<EpochAbortedException>(epochs.AbortIfPartitionsLost);

        Assert.Equal("partitions 0, 2 were lost; the epoch holds work of them", aborted.Message);
        epochs.AbortIfPartitionsLost();
    }

    [Fact]
    public void Partitions_lost_abort_the_epoch_before_it_commits()
    {
        var epochs = NewEpochs();
        _committer.Sent = true;
        epochs.PartitionsLost([1]);

        Assert.Throws<EpochAbortedException>(() => epochs.Commit(null!, null!, TimeSpan.FromSeconds(30)));
        Assert.Equal((0, 0), (_committer.Holds, _committer.Commits));
    }

    [Fact]
    public void The_engine_is_asked_for_its_state_again_as_soon_as_every_taken_record_is_processed()
    {
        // One record is in process at the epoch's first ask for state; it finishes while the epoch waits, having changed
        // state after that ask. The engine is asked again at once, not after the 100 ms that timers are asked by: the
        // epoch settles within a settle timeout (50 ms on a clock that moves 1 ms a turn) shorter than that.
        var time = new FakeTimeProvider();
        var asked = new List<long>(); // records in process at each ask
        var epochs = NewEpochs(
            new SourceTransactions { Committer = _committer, Settled = () => asked is [.., 0] },
            writeStateNow: () => asked.Add(_gate.Processing),
            clock: time);
        _committer.Sent = true;
        _gate.Taken();
        _committer.OnHold = () =>
        {
            if (_committer.Holds == 2)
            {
                _gate.RecordReleased();
                _gate.RecordCompleted();
            }

            time.Advance(TimeSpan.FromMilliseconds(1));
        };
        using var consumer = UnconnectedConsumer();

        epochs.Commit(consumer, consumer, TimeSpan.FromMilliseconds(50));

        Assert.Equal([1L, 0L], asked);
        Assert.Equal(1, _committer.Commits);
    }

    [Fact]
    public void An_epoch_says_how_long_it_held_intake_before_it_could_commit()
    {
        var time = new FakeTimeProvider();
        var held = new List<TimeSpan>();
        var epochs = NewEpochs(
            new SourceTransactions { Committer = _committer, Settled = () => _committer.Holds >= 3, HeldIntake = held.Add },
            clock: time);
        _committer.Sent = true;
        _committer.OnHold = () => time.Advance(TimeSpan.FromMilliseconds(40)); // settled at the third look, 120 ms in
        using var consumer = UnconnectedConsumer();

        epochs.Commit(consumer, consumer, TimeSpan.FromSeconds(30));

        Assert.Equal([TimeSpan.FromMilliseconds(120)], held);
        Assert.Equal(1, _committer.Commits);
    }

    [Fact]
    public void What_a_sensor_partition_writes_with_its_commit_is_sent_once_every_taken_record_is_processed_before_the_epoch_holds_its_sends()
    {
        // The partition time of exactly-once mode: it must be in the epoch's transaction (sent before the hold, or it
        // would go into the next) and name the commit point the epoch will commit (after the last taken record), once
        // the engine has judged every taken record; it need not wait for their outputs' acknowledgements.
        var p1 = new TopicPartition(P0.Topic, 1);
        var repartition = new TopicPartition("kommune.repartition", 0);
        _trackers[P0] = new PartitionOffsetTracker(P0.Topic, 0, 40);
        _trackers[P0].TryTakeCommittable(out _);
        _trackers[P0].Start(40);
        _trackers[p1] = new PartitionOffsetTracker(p1.Topic, 1, 7);
        _trackers[p1].TryTakeCommittable(out _); // nothing new on partition 1: no write
        _trackers[repartition] = new PartitionOffsetTracker(repartition.Topic, 0, 3);
        _trackers[repartition].Start(3);
        _trackers[repartition].Complete(3); // the repartition topic's offsets need none
        _gate.Taken();
        var writes = new List<(int Partition, long Next, int HoldsBefore)>();
        var epochs = NewEpochs(
            new SourceTransactions { Committer = _committer, Settled = () => writes.Count > 0 },
            writeBeforeCommit: (partition, next, _) => writes.Add((partition, next, _committer.Holds)));
        _committer.OnHold = () =>
        {
            if (_committer.Holds == 2)
            {
                _gate.RecordReleased(); // processed; its outputs not yet acknowledged
            }
            else if (_committer.Holds == 4)
            {
                _trackers[P0].Complete(40);
                _gate.RecordCompleted();
            }
        };
        using var consumer = UnconnectedConsumer();

        epochs.Commit(consumer, consumer, TimeSpan.FromSeconds(30));

        Assert.Equal([(0, 41L, 2)], writes); // once, after the record was processed at the second look, before the third
        Assert.Equal((4, 1), (_committer.Holds, _committer.Commits));
    }

    private sealed class RecordingCommitter : IEpochCommitter
    {
        public bool Sent { get; set; }

        public Action? OnHold { get; set; }

        public int Holds { get; private set; }

        public int Commits { get; private set; }

        public bool HasSends => Sent;

        public bool HasWork => Sent;

        public bool TryHold(Func<bool> settled)
        {
            Holds++;
            OnHold?.Invoke();
            return settled();
        }

        public void Commit(IReadOnlyList<(IReadOnlyList<TopicPartitionOffset> Offsets, IConsumerGroupMetadata Group)> offsets) => Commits++;

        public void Abort(string reason) => throw new EpochAbortedException(reason);
    }
}
