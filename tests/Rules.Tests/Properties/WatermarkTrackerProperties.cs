using CsCheck;
using Kommune.Rules.Runtime;

namespace Kommune.Rules.Tests.Properties;

/// <summary>
/// The tracker skips its pass over every partition when an event cannot move the minimum; whatever the sequence of
/// events, assignments, removals, catch-ups and clock steps, it answers as a tracker that makes that pass every time.
/// </summary>
public sealed class WatermarkTrackerProperties
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 8, 0, 0, TimeSpan.Zero);

    private static readonly EventTimeSettings Settings = new()
    {
        OutOfOrderness = TimeSpan.FromSeconds(5),
        AllowedLateness = TimeSpan.FromSeconds(30),
        IdlePartitionTimeout = TimeSpan.FromSeconds(10),
    };

    /// <summary>An operation: its kind, a partition, an event time in seconds after T0, and a clock step in seconds (may go back).</summary>
    private static readonly Gen<List<(int Kind, int Partition, int EventSeconds, int Step)>> Operations =
        Gen.Select(Gen.Int[0, 9], Gen.Int[0, 5], Gen.Int[0, 600], Gen.Int[-2, 12]).List[1, 300];

    [Fact]
    public void Every_answer_equals_that_of_a_full_pass_over_the_partitions()
    {
        Operations.Sample(operations =>
        {
            var tracker = new WatermarkTracker(Settings);
            var reference = new FullPass(Settings);
            var now = T0;
            foreach (var (kind, partition, eventSeconds, step) in operations)
            {
                now = now.AddSeconds(step);
                var eventTime = T0.AddSeconds(eventSeconds);
                switch (kind)
                {
                    case <= 4:
                        Assert.Equal(reference.Observe(partition, eventTime, now), tracker.Observe(partition, eventTime, now));
                        break;
                    case 5:
                        tracker.Assign(partition, now);
                        reference.Assign(partition, now);
                        break;
                    case 6:
                        tracker.Remove(partition);
                        reference.Remove(partition);
                        break;
                    case 7:
                    case 8:
                        tracker.SetCaughtUp(partition, kind == 7);
                        reference.SetCaughtUp(partition, kind == 7);
                        break;
                    default:
                        Assert.Equal(reference.Refresh(now), tracker.Refresh(now));
                        break;
                }

                Assert.Equal(reference.Watermark, tracker.Watermark);
                Assert.Equal(reference.IsIdle(partition, now), tracker.IsIdle(partition, now));
            }
        });
    }

    /// <summary>The tracker's rules with a pass over every partition at each event (as it was before the shortcut).</summary>
    private sealed class FullPass(EventTimeSettings settings)
    {
        private readonly Dictionary<int, (DateTimeOffset Watermark, DateTimeOffset LastSeen, bool CaughtUp)> _partitions = [];

        public DateTimeOffset Watermark { get; private set; } = DateTimeOffset.MinValue;

        public bool Observe(int partition, DateTimeOffset eventTime, DateTimeOffset now)
        {
            var candidate = eventTime - settings.OutOfOrderness;
            _partitions[partition] = _partitions.TryGetValue(partition, out var known)
                ? (candidate > known.Watermark ? candidate : known.Watermark, now, known.CaughtUp)
                : (candidate, now, false);
            return Refresh(now);
        }

        public void Assign(int partition, DateTimeOffset now) => _partitions.TryAdd(partition, (DateTimeOffset.MinValue, now, false));

        public void Remove(int partition) => _partitions.Remove(partition);

        public void SetCaughtUp(int partition, bool caughtUp)
        {
            if (_partitions.TryGetValue(partition, out var known))
            {
                _partitions[partition] = known with { CaughtUp = caughtUp };
            }
        }

        public bool IsIdle(int partition, DateTimeOffset now) => _partitions.TryGetValue(partition, out var known) && Idle(known, now);

        public bool Refresh(DateTimeOffset now)
        {
            var minimum = DateTimeOffset.MaxValue;
            foreach (var partition in _partitions.Values)
            {
                if (!Idle(partition, now) && partition.Watermark < minimum)
                {
                    minimum = partition.Watermark;
                }
            }

            if (minimum == DateTimeOffset.MaxValue || minimum <= Watermark)
            {
                return false;
            }

            Watermark = minimum;
            return true;
        }

        private bool Idle((DateTimeOffset Watermark, DateTimeOffset LastSeen, bool CaughtUp) partition, DateTimeOffset now) =>
            partition.CaughtUp && (partition.Watermark == DateTimeOffset.MinValue || now - partition.LastSeen > settings.IdlePartitionTimeout);
    }
}
