using CsCheck;
using Kommune.Rules.Api;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;
using Kommune.Rules.Testing;

namespace Kommune.Rules.Tests.Properties;

/// <summary>
/// Timers fire only once the watermark (event time) or the clock (processing time) has reached them, each exactly
/// once at the time it was last set to, in due order, and no due timer is left pending after any step.
/// </summary>
public sealed class TimerProperties
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static readonly EventTimeSettings Settings = new()
    {
        OutOfOrderness = TimeSpan.FromSeconds(5),
        AllowedLateness = TimeSpan.FromSeconds(30),
    };

    /// <summary>A step: what (0-2 send, 3 move the clock, 4 move the watermark), a time, and the event's timer action.</summary>
    private static readonly Gen<List<(int What, int Millis, int Sensor, int Action, int Name, int Offset)>> Steps =
        Gen.Select(Gen.Int[0, 4], Gen.Int[0, 120_000], Gen.Int[0, 1], Gen.Int[0, 2], Gen.Int[0, 3], Gen.Int[-5_000, 20_000]).List[0, 60];

    [Fact]
    public void No_timer_fires_early_twice_at_a_stale_time_or_out_of_order_and_none_due_is_left_pending()
    {
        Steps.Sample(steps =>
        {
            var rule = new RandomTimerRule();
            var kit = new RuleTestKit(Settings, T0).Bind(rule, "timers");
            foreach (var (what, millis, sensor, action, name, offset) in steps)
            {
                switch (what)
                {
                    case <= 2:
                        kit.Send($"s{sensor}", "t", T0.AddMilliseconds(millis), new Dictionary<string, SensorValue>
                        {
                            ["action"] = action,
                            ["name"] = name,
                            ["offset"] = offset,
                        });
                        break;
                    case 3:
                        kit.AdvanceClock(TimeSpan.FromMilliseconds(millis / 10));
                        break;
                    default:
                        kit.AdvanceWatermarkTo(T0.AddMilliseconds(millis));
                        break;
                }

                Assert.Empty(kit.Failures.Select(f => f.Exception.Message));
                var due = rule.Pending
                    .Where(p => p.Value.Domain == TimeDomain.EventTime ? p.Value.Time <= kit.Watermark : p.Value.Time <= kit.Now)
                    .Select(p => $"{p.Key} {p.Value}")
                    .ToList();
                Assert.Empty(due);
            }

            // The runtime's own pending timers are the model's.
            foreach (var sensor in new[] { "s0", "s1" })
            {
                var timers = (kit.SensorState(sensor)?.Rules ?? []).SelectMany(r => r.Timers).Select(t => (t.Name, t.Time, t.Domain)).Order();
                var expected = rule.Pending.Where(p => p.Key.Key == sensor).Select(p => (p.Key.Name, p.Value.Time, p.Value.Domain)).Order();
                Assert.Equal(expected, timers);
            }
        }, iter: 300);
    }

    private sealed record Expected(DateTimeOffset Time, TimeDomain Domain, bool DueWhenSet);

    /// <summary>
    /// Sets, moves or cancels a timer per event as its values say, re-arms from timer handlers, and checks every
    /// firing against its own model of what is pending.
    /// </summary>
    private sealed class RandomTimerRule : Rule
    {
        private readonly Dictionary<(string Key, TimeDomain Domain), DateTimeOffset> _lastInOrder = [];

        public Dictionary<(string Key, string Name), Expected> Pending { get; } = [];

        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
        {
            sensorEvent.TryGetNumber("action", out var action);
            sensorEvent.TryGetNumber("name", out var name);
            sensorEvent.TryGetNumber("offset", out var offset);
            var timer = $"n{name}";
            switch (action)
            {
                case 0:
                    Set(context, timer, TimeDomain.EventTime, context.EventTime.AddMilliseconds(offset));
                    break;
                case 1:
                    Set(context, timer, TimeDomain.ProcessingTime, context.ProcessingTime.AddMilliseconds(offset));
                    break;
                default:
                    Assert.Equal(Pending.Remove((context.Key, timer)), context.CancelTimer(timer));
                    break;
            }
        }

        public override void OnTimer(IRuleContext context, RuleTimer timer)
        {
            var now = timer.Domain == TimeDomain.EventTime ? context.Watermark : context.ProcessingTime;
            Assert.True(timer.Time <= now, $"{timer} fired at {now}");
            if (timer.Domain == TimeDomain.EventTime)
            {
                Assert.Equal(timer.Time, context.EventTime);
            }

            Assert.True(Pending.Remove((context.Key, timer.Name), out var expected), $"{timer} was not pending (cancelled, moved or fired already)");
            Assert.Equal((expected.Time, expected.Domain), (timer.Time, timer.Domain));

            // Timers set in the future fire in due order; one set already due fires at once, whatever its time.
            if (!expected.DueWhenSet)
            {
                if (_lastInOrder.TryGetValue((context.Key, timer.Domain), out var last))
                {
                    Assert.True(timer.Time >= last, $"{timer} fired after a {timer.Domain} timer due at {last}");
                }

                _lastInOrder[(context.Key, timer.Domain)] = timer.Time;
            }

            // Re-arm from the handler: n0 sets n3 a second later (already due or not), in the same domain.
            if (timer.Name == "n0")
            {
                Set(context, "n3", timer.Domain, timer.Time.AddSeconds(1));
            }
        }

        private void Set(IRuleContext context, string name, TimeDomain domain, DateTimeOffset time)
        {
            var now = domain == TimeDomain.EventTime ? context.Watermark : context.ProcessingTime;
            Pending[(context.Key, name)] = new Expected(time, domain, time <= now);
            if (domain == TimeDomain.EventTime)
            {
                context.SetEventTimeTimer(name, time);
            }
            else
            {
                context.SetProcessingTimeTimer(name, time);
            }
        }
    }
}
