using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Kommune.Connectors.Codecs;
using Kommune.Connectors.Kafka;
using Kommune.Engine.Actors;
using Kommune.Engine.Tests.Support;
using Kommune.Rules.Api;
using Kommune.Rules.BuiltIn;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>
/// The actor topology on virtual time (Akka's TestScheduler), with an in-memory sink: idle sensor and area actors
/// stop, a later event starts them again, and no event is lost or reordered across a passivation.
/// </summary>
public sealed class PassivationTests : TestKit
{
    // The engine's own Akka settings (its sensors' mailbox), on virtual time.
    private static readonly string VirtualTime = """akka.scheduler.implementation = "Akka.TestKit.TestScheduler, Akka.TestKit" """ + "\n" + KommuneEngine.AkkaConfig;

    private readonly EngineCounters _counters = new();
    private readonly RecordingSink _sink = new();
    private readonly IActorRef _router;
    private readonly EngineContext _engine;
    private readonly Plugins.ListLogger _log = new();
    private long _completed;
    private long _nextOffset;

    public PassivationTests(ITestOutputHelper output)
        : base(VirtualTime, output)
    {
        var options = new EngineOptions
        {
            BootstrapServers = "unused:9092",
            SensorIdleTimeout = TimeSpan.FromMinutes(1),
            AreaIdleTimeout = TimeSpan.FromMinutes(5),
        };
        var rules = new RuleSet([new RuleBinding("echo", new EchoRule()), new RuleBinding("timed", new TimedRule()), new RuleBinding("count", new CountRule()), new RuleBinding("tally", new TallyRule()), new RuleBinding(FallAlertRule.RuleName, new FallAlertRule(), areas: ["keeps-state"])]);
        _engine = new EngineContext(_sink, _counters, options, TimeProvider.System, rules, _log);
        _router = Sys.ActorOf(EventRouterActor.Props(_engine), "areas");
    }

    private TestScheduler Clock => (TestScheduler)Sys.Scheduler;

    [Fact]
    public void An_idle_sensor_is_passivated_then_started_again_by_its_next_event()
    {
        Send(Events.Fall("s-1", "a-1", 0));
        Send(Events.Fall("s-2", "a-1", 0));
        AwaitCondition(() => Interlocked.Read(ref _completed) == 2);
        Assert.Equal(2, _counters.ActiveSensors);
        Assert.Equal(1, _counters.ActiveAreas);

        Clock.Advance(TimeSpan.FromSeconds(59));
        Send(Events.Fall("s-1", "a-1", 1)); // s-1 is busy again; only s-2 stays idle
        AwaitCondition(() => Interlocked.Read(ref _completed) == 3);
        Clock.Advance(TimeSpan.FromSeconds(2));
        AwaitCondition(() => _counters.ActiveSensors == 1);

        Clock.Advance(TimeSpan.FromMinutes(1));
        AwaitCondition(() => _counters.ActiveSensors == 0);
        Assert.Equal(1, _counters.ActiveAreas);
        Clock.Advance(TimeSpan.FromMinutes(5));
        AwaitCondition(() => _counters.ActiveAreas == 0);

        Send(Events.Fall("s-2", "a-1", 2));
        AwaitCondition(() => Interlocked.Read(ref _completed) == 4);
        Assert.Equal(1, _counters.ActiveSensors);
        Assert.Equal(1, _counters.ActiveAreas);
    }

    [Fact]
    public void A_sensor_that_meets_new_rules_by_an_event_before_the_reloads_message_counts_in_that_reload()
    {
        var counted = new SensorEvent("s-1", "a-1", "count", DateTimeOffset.UnixEpoch, new Dictionary<string, SensorValue>());
        Send(counted);
        AwaitCondition(() => Interlocked.Read(ref _completed) == 1);

        // The engine installs new rules (the count binding removed) and, as a reload does, passes a message on; here the
        // message never comes, so the sensor meets the rules by its next event, as it does when an event wins the race.
        var running = _engine.Rules;
        var next = new RuleSet(running.Bindings.Where(b => b.Name != "count").ToList());
        var progress = _engine.Reloads.Begin(running, next);
        _engine.Install(next, progress);
        Send(counted with { Timestamp = DateTimeOffset.UnixEpoch.AddSeconds(1) });
        AwaitCondition(() => Interlocked.Read(ref _completed) == 2);
        progress.Done();

        var lines = _log.Entries.Select(e => e.Message).ToList();
        Assert.Contains(lines, l => l.Contains("binding 'count' removed: state of 0 keys kept, 0 migrated, 0 reset, 1 removed", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains("outside a reload", StringComparison.Ordinal));
    }

    [Fact]
    public void Events_arriving_while_a_sensor_passivates_are_all_processed_in_order()
    {
        Send(Events.Fall("s-1", "a-1", 0));
        AwaitCondition(() => Interlocked.Read(ref _completed) == 1);

        // The idle timeout fires and, before the sensor has stopped, a burst of its events arrives.
        Clock.Advance(TimeSpan.FromMinutes(1));
        for (var i = 1; i <= 200; i++)
        {
            Send(Events.Fall("s-1", "a-1", i));
        }

        AwaitCondition(() => Interlocked.Read(ref _completed) == 201);
        var seconds = _sink.Alerts.Where(a => a.Status == AlertStatus.Raised).Select(a => (int)(a.EventTime - Events.T0).TotalSeconds).ToList();
        Assert.Equal(Enumerable.Range(0, 201), seconds);
    }

    [Theory]
    [InlineData("rom 3/seng #2 ø", "bydel/gamle oslo")]
    [InlineData("$system", "..")]
    [InlineData("a%2Fb", "%")]
    public void Ids_with_any_characters_get_their_own_actors(string sensorId, string areaId)
    {
        Send(Events.Fall(sensorId, areaId, 0));
        Send(Events.Fall(sensorId + "-2", areaId, 0));

        AwaitCondition(() => Interlocked.Read(ref _completed) == 2);
        Assert.Equal(2, _counters.ActiveSensors);
        Assert.Equal([sensorId, sensorId + "-2"], _sink.Alerts.Where(a => a.Status == AlertStatus.Raised).Select(a => a.SensorId).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_sensor_with_an_open_alert_is_not_passivated()
    {
        Send(Events.Fall("s-1", "keeps-state", 0)); // the fall rule keeps its alert open
        Send(Events.Fall("s-2", "a-1", 0));
        AwaitCondition(() => Interlocked.Read(ref _completed) == 2);

        Clock.Advance(TimeSpan.FromMinutes(2));
        AwaitCondition(() => _counters.ActiveSensors == 1);
        Clock.Advance(TimeSpan.FromMinutes(10));
        AwaitCondition(() => _counters.ActiveAreas == 1);
        Assert.Equal(1, _counters.ActiveSensors);
        Assert.Equal(0, _counters.DormantSensors); // an acknowledgement or an escalation may need it at any time
    }

    [Fact]
    public void An_idle_sensor_whose_rules_hold_state_falls_asleep_as_its_bytes_and_its_next_event_goes_on_from_that_state()
    {
        for (var i = 0; i < 3; i++)
        {
            SendAndAwait(Counted("s-1", i));
        }

        Clock.Advance(TimeSpan.FromMinutes(2));
        AwaitCondition(() => _counters is { ActiveSensors: 0, DormantSensors: 1 });
        Assert.Equal(1, _counters.ActiveAreas); // the area keeps it: it does not stop while it has a sleeping sensor
        Clock.Advance(TimeSpan.FromMinutes(10));
        AwaitCondition(() => _counters.ActiveAreas == 1);

        SendAndAwait(Counted("s-1", 3));
        Assert.Equal([1.0, 2, 3, 4], Counts());
        Assert.Equal((1, 0), (_counters.ActiveSensors, _counters.DormantSensors));
    }

    [Fact]
    public void A_sleeping_sensors_event_time_timer_fires_when_the_watermark_passes_it()
    {
        SendAndAwait(new SensorEvent("t-1", "a-1", "timed", Events.T0, new Dictionary<string, SensorValue>())); // due at T0 + 1 s
        Clock.Advance(TimeSpan.FromMinutes(2));
        AwaitCondition(() => _counters is { ActiveSensors: 0, DormantSensors: 1 });

        Announce(Events.T0.AddMilliseconds(999));
        Assert.Equal(1, _counters.DormantSensors);
        Announce(Events.T0.AddSeconds(1));

        AwaitCondition(() => _sink.Alerts.Any(a => a.Rule == "timed"));
        Assert.Equal(Events.T0.AddSeconds(1), _sink.Alerts.Single(a => a.Rule == "timed").EventTime);
        Assert.Equal(0, _counters.DormantSensors);
    }

    [Fact]
    public void Events_arriving_while_sensors_with_state_fall_asleep_go_on_from_their_state_in_order()
    {
        const int Sensors = 20, Burst = 50;
        for (var sensor = 0; sensor < Sensors; sensor++)
        {
            Send(Counted($"s-{sensor}", 0));
        }

        AwaitCondition(() => Interlocked.Read(ref _completed) == Sensors);

        // The idle timeout fires and, before the sensors have stopped, bursts of their events arrive. Each sensor may
        // handle some before its parent's confirmation, or its state may reach the area before or after some of them
        // (then they wait for its next incarnation, which gets the state first), or it may be asleep already (then an
        // event wakes it): in each case its events count on from its state.
        Clock.Advance(TimeSpan.FromMinutes(1));
        for (var i = 1; i <= Burst; i++)
        {
            for (var sensor = 0; sensor < Sensors; sensor++)
            {
                Send(Counted($"s-{sensor}", i));
            }
        }

        AwaitCondition(() => Interlocked.Read(ref _completed) == Sensors * (Burst + 1));
        for (var sensor = 0; sensor < Sensors; sensor++)
        {
            Assert.Equal(Enumerable.Range(1, Burst + 1).Select(n => (double)n), Counts($"s-{sensor}"));
        }
    }

    private static SensorEvent Counted(string sensorId, int second) =>
        new(sensorId, "a-1", "tally", Events.T0.AddSeconds(second), new Dictionary<string, SensorValue>());

    private List<double> Counts(string sensorId = "s-1") =>
        _sink.Alerts.Where(a => a.Rule == "tally" && a.Status == AlertStatus.Raised && a.SensorId == sensorId).Select(a => a.Evidence["n"].Number).ToList();

    [Fact]
    public void A_sensor_that_gains_state_while_it_passivates_stays_with_its_state()
    {
        // Idle and without state, so it asks to stop; counted events reach it before its parent's confirmation, and
        // the first one gives it state. It must stay with that state: stopping would lose the count, and a new
        // incarnation would count from one again.
        Send(new SensorEvent("s-1", "a-1", "other", Events.T0, new Dictionary<string, SensorValue>()));
        AwaitCondition(() => Interlocked.Read(ref _completed) == 1);
        Clock.Advance(TimeSpan.FromMinutes(1));
        for (var i = 1; i <= 200; i++)
        {
            Send(new SensorEvent("s-1", "a-1", "count", Events.T0.AddSeconds(i), new Dictionary<string, SensorValue>()));
        }

        AwaitCondition(() => Interlocked.Read(ref _completed) == 201);
        var counts = _sink.Alerts.Where(a => a.Rule == "count").Select(a => a.Evidence["n"].Number).ToList();
        Assert.Equal(Enumerable.Range(1, 200).Select(n => (double)n), counts);
        Clock.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(1, _counters.ActiveSensors);
    }

    [Fact]
    public void A_watermark_announced_right_after_an_event_reaches_the_timer_that_event_set()
    {
        var timed = new SensorEvent("t-1", "a-1", "timed", Events.T0, new Dictionary<string, SensorValue>());
        Send(timed);
        _router.Tell(new WatermarkAdvanced(Events.T0.AddSeconds(2)));

        AwaitCondition(() => _sink.Alerts.Any(a => a.Rule == "timed"));
        var alert = _sink.Alerts.Single(a => a.Rule == "timed");
        Assert.Equal(Events.T0.AddSeconds(1), alert.EventTime);
    }

    [Fact]
    public void A_watermark_that_does_not_cover_a_keys_partition_leaves_its_timers_alone()
    {
        // Announced before the key's partition was taken (its keys restored meanwhile): taking the engine's watermark
        // would close the key's windows before its partition's backlog is read, and the rule would drop those events.
        var timed = new SensorEvent("t-1", "a-1", "timed", Events.T0, new Dictionary<string, SensorValue>());
        Send(timed); // partition 0
        _router.Tell(new WatermarkAdvanced(Events.T0.AddSeconds(2), null, new Dictionary<int, DateTimeOffset> { [1] = Events.T0.AddSeconds(2) }));
        _router.Tell(new WatermarkAdvanced(Events.T0.AddSeconds(2), null, new Dictionary<int, DateTimeOffset> { [0] = Events.T0.AddMilliseconds(500) }));
        var handled = 0;
        _router.Tell(new WatermarkAdvanced(Events.T0.AddSeconds(2), new Countdown(() => Interlocked.Exchange(ref handled, 1)), new Dictionary<int, DateTimeOffset> { [0] = Events.T0.AddMilliseconds(600) }));
        AwaitCondition(() => Volatile.Read(ref handled) == 1); // every actor has handled the three
        Assert.DoesNotContain(_sink.Alerts, a => a.Rule == "timed");

        _router.Tell(new WatermarkAdvanced(Events.T0.AddSeconds(2), null, new Dictionary<int, DateTimeOffset> { [0] = Events.T0.AddSeconds(1) }));

        AwaitCondition(() => _sink.Alerts.Any(a => a.Rule == "timed"));
    }

    [Fact]
    public void A_sensor_is_told_of_the_watermark_only_once_it_passes_its_timer()
    {
        // Announcements come every 50 ms; a sensor whose window closes in a minute need not hear of each one. It tells
        // its area when its next timer is due right after its event (so no watermark is forwarded to it only to ask).
        var timed = new SensorEvent("t-1", "a-1", "timed", Events.T0, new Dictionary<string, SensorValue>());
        var told = _counters.WatermarksToSensors;
        SendAndAwait(timed); // sets a timer due at T0 + 1 s, and answers with it (its answer is in the area's mailbox)

        Announce(Events.T0.AddMilliseconds(200));
        Announce(Events.T0.AddMilliseconds(500));
        Announce(Events.T0.AddMilliseconds(999));
        Assert.Equal(told, _counters.WatermarksToSensors);
        Assert.DoesNotContain(_sink.Alerts, a => a.Rule == "timed");

        Announce(Events.T0.AddSeconds(1));
        Assert.Equal(told + 1, _counters.WatermarksToSensors);
        AwaitCondition(() => _sink.Alerts.Any(a => a.Rule == "timed"));

        // An event more than 50 ms of event time after the last it answered for is answered at once too.
        SendAndAwait(timed with { Timestamp = Events.T0.AddSeconds(2) }); // due at T0 + 3 s
        Announce(Events.T0.AddMilliseconds(2010));
        Assert.Equal(told + 1, _counters.WatermarksToSensors);

        // One within 50 ms is not (a busy sensor answers per watermark, not per event): its area tells it of every
        // watermark until it answers, which it does at the first.
        SendAndAwait(timed with { Timestamp = Events.T0.AddMilliseconds(2020) }); // due at T0 + 3.02 s
        Announce(Events.T0.AddMilliseconds(2100));
        Assert.Equal(told + 2, _counters.WatermarksToSensors);
        Announce(Events.T0.AddMilliseconds(2200));
        Announce(Events.T0.AddSeconds(3)); // before its timer
        Assert.Equal(told + 2, _counters.WatermarksToSensors);
        Announce(Events.T0.AddMilliseconds(3020));
        Assert.Equal(told + 3, _counters.WatermarksToSensors);
    }

    /// <summary>Sends an event and waits until it is complete (handled by its sensor, whatever it told its area sent).</summary>
    private void SendAndAwait(SensorEvent e)
    {
        var before = Interlocked.Read(ref _completed);
        Send(e);
        AwaitCondition(() => Interlocked.Read(ref _completed) == before + 1);
    }

    /// <summary>Announces a watermark and waits until every actor has handled it.</summary>
    private void Announce(DateTimeOffset watermark)
    {
        var handled = 0;
        _router.Tell(new WatermarkAdvanced(watermark, new Countdown(() => Interlocked.Exchange(ref handled, 1)), new Dictionary<int, DateTimeOffset> { [0] = watermark }));
        AwaitCondition(() => Volatile.Read(ref handled) == 1);
    }

    /// <summary>Sets an event-time timer a second after each "timed" event; raises an alert when it fires.</summary>
    private sealed class TimedRule : Rule
    {
        public override IReadOnlyCollection<string> SensorTypes { get; } = ["timed"];

        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent) =>
            context.SetEventTimeTimer("t", sensorEvent.Timestamp.AddSeconds(1));

        public override void OnTimer(IRuleContext context, RuleTimer timer) =>
            context.RaiseAlert("fired", new AlertDraft("test", "timer", AlertSeverity.Low, "fired"));
    }

    /// <summary>Counts its key's "count" events in state and raises an alert per event with the count so far.</summary>
    private sealed class CountRule : Rule
    {
        public override IReadOnlyCollection<string> SensorTypes { get; } = ["count"];

        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
        {
            var count = context.State<int>("n");
            count.Update(count.Value + 1);
            context.RaiseAlert(count.Value.ToString(System.Globalization.CultureInfo.InvariantCulture), new AlertDraft("test", "count", AlertSeverity.Low, "counted")
            {
                Evidence = new Dictionary<string, SensorValue> { ["n"] = count.Value },
            });
        }
    }

    /// <summary>
    /// Counts its key's "tally" events in state; per event raises and at once resolves an alert with the count so far:
    /// state without an open alert, so an idle sensor of it may fall asleep.
    /// </summary>
    private sealed class TallyRule : Rule
    {
        public override IReadOnlyCollection<string> SensorTypes { get; } = ["tally"];

        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
        {
            var count = context.State<int>("n");
            count.Update(count.Value + 1);
            var incident = count.Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
            context.RaiseAlert(incident, new AlertDraft("test", "tally", AlertSeverity.Low, "counted")
            {
                Evidence = new Dictionary<string, SensorValue> { ["n"] = count.Value },
            });
            context.ResolveAlert(incident, "counted");
        }
    }

    /// <summary>Raises and at once resolves an alert per event: visible output, no state left behind.</summary>
    private sealed class EchoRule : Rule
    {
        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
        {
            var incident = sensorEvent.Timestamp.ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
            context.RaiseAlert(incident, new AlertDraft("test", "echo", AlertSeverity.Low, "echo"));
            context.ResolveAlert(incident, "echoed");
        }
    }

    private void Send(SensorEvent e)
    {
        var offset = _nextOffset++;
        var tracker = new PartitionOffsetTracker("kommune.sensor-events", 0, 0, () => Interlocked.Increment(ref _completed));
        tracker.Start(offset);
        var consumed = new ConsumedEvent(e, tracker, offset, null, SensorEventEncoder.Encode(e));
        _router.Tell(new RoutedEvent(consumed, DateTimeOffset.MinValue, _counters));
    }

    /// <summary>Acknowledges every record at once, in the order sent.</summary>
    private sealed class RecordingSink : IOutputSink
    {
        private readonly Lock _gate = new();
        private readonly List<Alert> _alerts = [];

        public IReadOnlyList<Alert> Alerts
        {
            get
            {
                lock (_gate)
                {
                    return [.. _alerts];
                }
            }
        }

        public void Send(int partition, Confluent.Kafka.Message<byte[]?, byte[]?> record, Action onAcknowledged) => onAcknowledged();

        public void Send(Alert alert, AlertOwner? owner, Action onAcknowledged)
        {
            lock (_gate)
            {
                _alerts.Add(alert);
            }

            onAcknowledged();
        }

        public void Send(Aggregate aggregate, Action onAcknowledged) => onAcknowledged();

        public void Send(StateRecord state, Action onAcknowledged) => onAcknowledged();

        public void Send(DeadLetter deadLetter, Action onAcknowledged) => onAcknowledged();
    }
}
