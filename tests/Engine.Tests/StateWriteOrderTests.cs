using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Kommune.Connectors.Codecs;
using Kommune.Connectors.Kafka;
using Kommune.Engine.Actors;
using Kommune.Engine.Tests.Support;
using Kommune.Rules.Api;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>
/// When a key's state may be written while the outputs of what it includes wait for the broker: not in at-least-once
/// mode (a restart that restores the state must never miss an output whose cause it holds), at once in exactly-once
/// mode (outputs and state go into one transaction, visible together or not at all, and an epoch that waited for the
/// acknowledgements first would hold its intake longer); and what has it written: the checkpoint clock in at-least-once
/// mode, the epoch's ask in exactly-once mode. The actors on virtual time, with a sink that holds alerts'
/// acknowledgements until the test lets them go.
/// </summary>
public sealed class StateWriteOrderTests(ITestOutputHelper output)
    : TestKit("""akka.scheduler.implementation = "Akka.TestKit.TestScheduler, Akka.TestKit" """ + "\n" + KommuneEngine.AkkaConfig, output)
{
    private readonly HeldAlertsSink _sink = new();
    private readonly EngineCounters _counters = new();
    private long _nextOffset;

    [Fact]
    public void At_least_once_a_keys_state_is_written_only_after_its_outputs_are_acknowledged()
    {
        var (engine, router) = StartWithOneAlertSent(ProcessingGuarantee.AtLeastOnce);

        engine.WriteStateNow();
        Send(router, Counted(2)); // behind the checkpoint in the actor's mailbox: once its alert is sent, the checkpoint was handled
        AwaitCondition(() => _sink.AlertsSent == 2);
        Assert.Equal(0, _sink.StatesSent);

        _sink.AcknowledgeAlerts(); // the last acknowledgement tells the key: no time need pass
        AwaitCondition(() => _sink.StatesSent == 1);
    }

    [Fact]
    public void At_least_once_a_checkpoint_waiting_for_outputs_is_not_asked_again_until_the_last_is_acknowledged()
    {
        // A key whose outputs wait for a slow broker costs nothing meanwhile: it neither polls nor holds a clock entry.
        var (engine, router) = StartWithOneAlertSent(ProcessingGuarantee.AtLeastOnce);

        Pass(engine, engine.Options.StateInterval * 3);
        Send(router, Counted(2)); // behind the checkpoint the clock told: once its alert is sent, that was handled
        AwaitCondition(() => _sink.AlertsSent == 2);
        Assert.Equal(0, _sink.StatesSent);
        Assert.Equal(0, engine.Checkpoints!.Waiting);
        Assert.False(engine.UnwrittenActors.IsEmpty);

        _sink.AcknowledgeAlerts();
        AwaitCondition(() => _sink.StatesSent == 1);
        Assert.Equal(0, engine.Checkpoints.Waiting);
    }

    [Fact]
    public void Exactly_once_a_keys_state_is_written_while_its_outputs_wait_for_the_broker()
    {
        var (engine, router) = StartWithOneAlertSent(ProcessingGuarantee.ExactlyOnce);
        Assert.False(engine.Settled); // an output and a changed state wait

        engine.WriteStateNow();
        AwaitCondition(() => _sink.StatesSent == 1);
        Assert.Equal(1, _sink.AlertsUnacknowledged);
        Assert.True(engine.UnwrittenActors.IsEmpty);
        Assert.False(engine.Settled); // the epoch still waits for the alert's acknowledgement

        _sink.AcknowledgeAlerts();
        Assert.True(engine.Settled);
    }

    [Fact]
    public void Exactly_once_a_keys_state_waits_for_the_epochs_ask_not_the_checkpoint_clock()
    {
        // The epoch's transaction holds every changed key's state as of its end: a write by the clock between two asks
        // would be written again at the next ask.
        var (engine, router) = StartWithOneAlertSent(ProcessingGuarantee.ExactlyOnce);
        _sink.AcknowledgeAlerts();

        Pass(engine, engine.Options.StateInterval * 3);
        Send(router, Counted(2)); // behind any checkpoint the clock told: once its alert is sent, that was handled
        AwaitCondition(() => _sink.AlertsSent == 2);
        Assert.Equal(0, _sink.StatesSent);
        Assert.False(engine.UnwrittenActors.IsEmpty);

        engine.WriteStateNow();
        AwaitCondition(() => _sink.StatesSent == 1);
    }

    [Fact]
    public void At_least_once_a_keys_changed_state_is_written_by_the_checkpoint_clock()
    {
        var (engine, router) = StartWithOneAlertSent(ProcessingGuarantee.AtLeastOnce);
        _sink.AcknowledgeAlerts();

        Pass(engine, engine.Options.StateInterval);
        AwaitCondition(() => _sink.StatesSent == 1);
    }

    /// <summary>Lets <paramref name="time"/> pass on the virtual scheduler tick by tick, as a real one does.</summary>
    private void Pass(EngineContext engine, TimeSpan time)
    {
        var tick = engine.Checkpoints!.Tick;
        for (var passed = TimeSpan.Zero; passed <= time; passed += tick)
        {
            ((TestScheduler)Sys.Scheduler).Advance(tick);
        }
    }

    /// <summary>Starts the actors in <paramref name="guarantee"/>'s mode and sends one event, whose alert has been sent on return.</summary>
    private (EngineContext Engine, IActorRef Router) StartWithOneAlertSent(ProcessingGuarantee guarantee)
    {
        var (engine, router) = Start(guarantee);
        Send(router, Counted(1));
        AwaitCondition(() => _sink.AlertsSent == 1);
        return (engine, router);
    }

    private (EngineContext Engine, IActorRef Router) Start(ProcessingGuarantee guarantee)
    {
        var options = new EngineOptions { BootstrapServers = "unused:9092", ProcessingGuarantee = guarantee, PersistState = true };
        var rules = new RuleSet([new RuleBinding("count", new CountRule())]);
        var engine = new EngineContext(_sink, _counters, options, TimeProvider.System, rules, new Plugins.ListLogger())
        {
            Checkpoints = new CheckpointClock(Sys.Scheduler, options.StateInterval),
            StatePartitions = 1,
        };
        return (engine, Sys.ActorOf(EventRouterActor.Props(engine), "areas"));
    }

    private static SensorEvent Counted(int second) =>
        new("s-1", "a-1", "count", Events.T0.AddSeconds(second), new Dictionary<string, SensorValue>());

    private void Send(IActorRef router, SensorEvent e)
    {
        var offset = _nextOffset++;
        var tracker = new PartitionOffsetTracker("kommune.sensor-events", 0, 0);
        tracker.Start(offset);
        router.Tell(new RoutedEvent(new ConsumedEvent(e, tracker, offset, null, SensorEventEncoder.Encode(e)), DateTimeOffset.MinValue, _counters));
    }

    /// <summary>Counts its key's events in state and raises an alert per event.</summary>
    private sealed class CountRule : Rule
    {
        public override IReadOnlyCollection<string> SensorTypes { get; } = ["count"];

        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
        {
            var count = context.State<int>("n");
            count.Update(count.Value + 1);
            context.RaiseAlert(count.Value.ToString(System.Globalization.CultureInfo.InvariantCulture), new AlertDraft("test", "count", AlertSeverity.Low, "counted"));
        }
    }

    /// <summary>Acknowledges state records at once and alerts only when the test says so.</summary>
    private sealed class HeldAlertsSink : IOutputSink
    {
        private readonly Lock _gate = new();
        private readonly List<Action> _held = [];
        private int _alerts;
        private int _states;

        public int AlertsSent => Volatile.Read(ref _alerts);

        public int StatesSent => Volatile.Read(ref _states);

        public int AlertsUnacknowledged
        {
            get
            {
                lock (_gate)
                {
                    return _held.Count;
                }
            }
        }

        public void AcknowledgeAlerts()
        {
            List<Action> held;
            lock (_gate)
            {
                held = [.. _held];
                _held.Clear();
            }

            held.ForEach(acknowledge => acknowledge());
        }

        public void Send(int partition, Confluent.Kafka.Message<byte[]?, byte[]?> record, Action onAcknowledged) => onAcknowledged();

        public void Send(Alert alert, AlertOwner? owner, Action onAcknowledged)
        {
            lock (_gate)
            {
                _held.Add(onAcknowledged);
            }

            Interlocked.Increment(ref _alerts);
        }

        public void Send(Aggregate aggregate, Action onAcknowledged) => onAcknowledged();

        public void Send(StateRecord state, Action onAcknowledged)
        {
            onAcknowledged(); // first: a test that sees the record counted sees its acknowledgement done
            Interlocked.Increment(ref _states);
        }

        public void Send(DeadLetter deadLetter, Action onAcknowledged) => onAcknowledged();
    }
}
