using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using Akka.Actor;
using Akka.Configuration;
using Kommune.Connectors.Kafka;
using Kommune.Engine;
using Kommune.Engine.Actors;
using Kommune.Engine.Plugins;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kommune.MemoryTest;

/// <summary>
/// One memory measurement: the engine's actor tree (<see cref="EventRouterActor"/> → <see cref="AreaActor"/> →
/// <see cref="SensorActor"/>) with the rules of a rules file, made the way <see cref="KommuneEngine"/> makes it, fed
/// <see cref="RoutedEvent"/>s directly (no Kafka). Each sensor gets its type's mature state with the engine's
/// <see cref="RestoreState"/> message and one event of its type (which turns the restored JSON into the rules'
/// objects). The heap is read after full blocking collections once every event has completed: before the sensors,
/// optionally after as many sensors without rule state, and after the sensors with state.
/// </summary>
internal sealed class MemoryRun(MemorySettings settings, TextWriter output)
{
    /// <summary>The event a fall wearable sends between falls; no rule keeps state for it.</summary>
    private const string Heartbeat = "heartbeat";

    private static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan StallTimeout = TimeSpan.FromMinutes(2);
    private static readonly IReadOnlyDictionary<int, long> NoCovers = new Dictionary<int, long>();

    private readonly EngineCounters _counters = new();
    private readonly Stopwatch _elapsed = Stopwatch.StartNew();
    private TimeSpan _lastProgress;
    private long _sent;
    private long _offset;
    private bool _rssLimitReached;

    /// <summary>Runs the measurement and prints progress, the state's composition and the result tables.</summary>
    /// <returns>The process exit code: 0 when every event completed without a rule failure.</returns>
    public int Run()
    {
        output.WriteLine(FormattableString.Invariant(
            $"Memory test: {settings.Sensors:N0} sensors ({settings.Type}) in {settings.Areas:N0} areas; rules {settings.RulesFile}; GC: {(GCSettings.IsServerGC ? "server" : "workstation")}, {GCSettings.LatencyMode}; state {(settings.Persist ? "persisted" : "not persisted")}"));
        RuleSet rules;
        using (var loader = new RuleLoader(settings.RulesFile, null, NullLogger.Instance))
        {
            rules = loader.Load().Rules;
        }

        output.WriteLine($"Rules: {string.Join(", ", rules.Bindings.Select(b => $"{b.Name} ({b.Rule.Scope}{(b.SensorTypes.Count > 0 ? ": " + string.Join('/', b.SensorTypes) : ", any type")})"))}");

        // State is not persisted (StatePartitions stays 0, nothing is written) unless --persist asks for it, and no actor
        // goes idle during the test unless --asleep-after asks for the sensors to.
        var options = new EngineOptions
        {
            PersistState = settings.Persist,
            SensorIdleTimeout = settings.AsleepAfter ?? TimeSpan.FromDays(1),
            AreaIdleTimeout = TimeSpan.FromDays(1),
        };
        var eventTime = options.ToEventTimeSettings();
        var types = settings.Type == SensorMix.Mixed ? SensorMix.Types : [settings.Type];
        output.WriteLine("Building one mature state per type (a KeyedRuleRunner through a simulated history)...");
        var states = new Dictionary<string, MatureState>(StringComparer.Ordinal);
        foreach (var type in types)
        {
            var started = _elapsed.Elapsed;
            var state = states[type] = MatureState.Build(type, rules, eventTime);
            foreach (var line in state.Describe())
            {
                output.WriteLine(line);
            }

            output.WriteLine(FormattableString.Invariant($"  (built in {(_elapsed.Elapsed - started).TotalSeconds:N1} s)"));
            if (state.Outputs.Failures > 0)
            {
                output.WriteLine($"A rule failed while building the {type} state; the state would not be realistic.");
                return 1;
            }
        }

        var replayed = states.ToDictionary(s => s.Key, s => s.Value.Replay(rules, eventTime), StringComparer.Ordinal);
        var system = ActorSystem.Create("kommune-memory", ConfigurationFactory.ParseString(KommuneEngine.AkkaConfig));
        try
        {
            // As KommuneEngine does: start the scheduler's thread before thousands of actors set their timeouts.
            system.Scheduler.Advanced.ScheduleOnce(TimeSpan.Zero, static () => { });
            var context = new EngineContext(new AcknowledgingSink(), _counters, options, TimeProvider.System, rules, NullLogger.Instance)
            {
                Checkpoints = settings.Persist ? new CheckpointClock(system.Scheduler, options.StateInterval) : null,
            };
            if (settings.Persist)
            {
                // As the engine with its default topics: 12 sensor-events partitions (tasks) and 12 state partitions.
                context.TaskPartitions = options.Partitions;
                context.StatePartitions = options.Partitions;
            }

            var router = system.ActorOf(EventRouterActor.Props(context), "areas");
            return Measure(router, states, replayed);
        }
        finally
        {
            foreach (var state in states.Values)
            {
                state.Dispose();
            }

            output.WriteLine("Stopping the actor system...");
            if (!system.Terminate().Wait(TimeSpan.FromSeconds(60)))
            {
                output.WriteLine("The actor system did not stop within 60 s; exiting anyway.");
            }
        }
    }

    private int Measure(IActorRef router, Dictionary<string, MatureState> states, Dictionary<string, (bool HasState, int SnapshotBytes)> replayed)
    {
        var areas = settings.Areas;
        var sensors = settings.Sensors;

        // The areas first, each with one sensor that gets an event no rule keeps state for, so that the deltas
        // measured next are the sensors' alone (area actors and their rule hosts are in the baseline).
        Phase("areas", areas, i =>
        {
            var id = string.Create(CultureInfo.InvariantCulture, $"warm-{i + 1:D6}");
            SendEvent(router, HeartbeatEvent(id, SensorMix.Area(i, areas)));
        });
        if (settings.AsleepAfter is not null)
        {
            Settle("areas' first sensors");
        }

        var baseline = HeapReading.Take();
        Print("baseline (areas, rules, templates)", baseline);

        HeapReading? bare = null;
        long bareCount = 0;
        if (settings.Split)
        {
            // Other ids (indices after the measured ones), same areas: actors whose rules hold nothing.
            bareCount = Phase("sensors without state", sensors, i =>
            {
                var index = sensors + i;
                SendEvent(router, HeartbeatEvent(SensorMix.Id(SensorMix.TypeOf(settings.Type, index, areas), index), SensorMix.Area(index, areas)));
            });
            bare = HeapReading.Take();
            Print("after the sensors without state", bare.Value);
        }

        var created = new Dictionary<string, long>(StringComparer.Ordinal);
        var withState = _rssLimitReached ? 0 : Phase("sensors with state", sensors, i =>
        {
            var type = SensorMix.TypeOf(settings.Type, i, areas);
            var state = states[type];
            var id = SensorMix.Id(type, i);
            var area = SensorMix.Area(i, areas);
            if (state.For(id, area) is { } snapshot)
            {
                // Raw: the bytes the engine read from the state topic, which RuleHost keeps as "last written". With
                // PersistState off nothing is ever written, so none; with it on, each key keeps its last snapshot.
                router.Tell(new RestoreState(KeyedStateHeader.Of(snapshot), snapshot, [], 0, NoCovers), ActorRefs.NoSender);
            }

            SendEvent(router, state.NextEvent(id, area));
            created[type] = created.GetValueOrDefault(type) + 1;
        });
        if (settings.AsleepAfter is not null)
        {
            Settle("sensors");
        }

        var full = HeapReading.Take();
        Print(settings.AsleepAfter is null ? "after the sensors with state" : "after the sensors with state went idle", full);

        Report(baseline, bare, bareCount, full, withState, created, replayed);
        if (settings.Hold)
        {
            output.WriteLine(FormattableString.Invariant($"Holding (process {Environment.ProcessId}): take a heap dump now, then press Enter."));
            Console.In.ReadLine();
        }

        return _counters.RuleFailures == 0 && !_rssLimitReached ? 0 : 1;
    }

    /// <summary>
    /// Creates <paramref name="count"/> sensors with <paramref name="sendOne"/>, at most <see cref="MemorySettings.MaxInFlight"/>
    /// events unprocessed at a time, and waits until every event sent so far has completed.
    /// </summary>
    /// <returns>How many were created (fewer when the RSS limit was reached).</returns>
    private long Phase(string name, long count, Action<long> sendOne)
    {
        output.WriteLine(FormattableString.Invariant($"[{_elapsed.Elapsed.TotalSeconds,6:N1} s] {name}: creating {count:N0}"));
        var started = _elapsed.Elapsed;
        long created = 0;
        for (; created < count && !_rssLimitReached; created++)
        {
            while (_sent - _counters.Processed >= settings.MaxInFlight)
            {
                Thread.Sleep(1); // flow control: the actors catch up
                Progress(name, created, count);
            }

            if (created % 1024 == 0)
            {
                Progress(name, created, count);
            }

            sendOne(created);
        }

        var lastProcessed = -1L;
        var lastChange = _elapsed.Elapsed;
        while (_counters.Processed < _sent)
        {
            Thread.Sleep(10);
            Progress(name, created, count);
            if (_counters.Processed != lastProcessed)
            {
                lastProcessed = _counters.Processed;
                lastChange = _elapsed.Elapsed;
            }
            else if (_elapsed.Elapsed - lastChange > StallTimeout)
            {
                throw new TimeoutException(FormattableString.Invariant($"No event completed for {StallTimeout.TotalSeconds} s: {_counters.Processed:N0} of {_sent:N0} processed."));
            }
        }

        var seconds = (_elapsed.Elapsed - started).TotalSeconds;
        output.WriteLine(FormattableString.Invariant(
            $"[{_elapsed.Elapsed.TotalSeconds,6:N1} s] {name}: {created:N0} created and every event processed in {seconds:N1} s; {_counters.ActiveSensors:N0} sensor actors, {_counters.ActiveAreas:N0} area actors"));
        return created;
    }

    /// <summary>
    /// With <see cref="MemorySettings.AsleepAfter"/>: waits until every sensor that can has gone idle, that is until the
    /// sensor actors and the sleeping sensors have not changed for three idle timeouts (a sensor is found idle within two).
    /// </summary>
    private void Settle(string what)
    {
        var timeout = settings.AsleepAfter!.Value;
        output.WriteLine(FormattableString.Invariant($"[{_elapsed.Elapsed.TotalSeconds,6:N1} s] waiting for the {what} to go idle (idle timeout {timeout.TotalSeconds:N0} s)"));
        var last = (Active: -1L, Asleep: -1L);
        var since = _elapsed.Elapsed;
        while (_elapsed.Elapsed - since < 3 * timeout)
        {
            Thread.Sleep(100);
            var now = (_counters.ActiveSensors, _counters.DormantSensors);
            if (now != last)
            {
                last = now;
                since = _elapsed.Elapsed;
            }

            if (_elapsed.Elapsed - _lastProgress >= ProgressInterval)
            {
                _lastProgress = _elapsed.Elapsed;
                output.WriteLine(FormattableString.Invariant($"[{_elapsed.Elapsed.TotalSeconds,6:N1} s] {now.ActiveSensors:N0} sensor actors, {now.DormantSensors:N0} asleep"));
            }
        }

        output.WriteLine(FormattableString.Invariant($"[{_elapsed.Elapsed.TotalSeconds,6:N1} s] settled: {last.Active:N0} sensor actors, {last.Asleep:N0} asleep"));
    }

    private void Progress(string name, long created, long count)
    {
        var now = _elapsed.Elapsed;
        if (now - _lastProgress < ProgressInterval)
        {
            return;
        }

        _lastProgress = now;
        var rss = Environment.WorkingSet;
        output.WriteLine(FormattableString.Invariant(
            $"[{now.TotalSeconds,6:N1} s] {name}: {created:N0}/{count:N0} sent, {_counters.Processed:N0}/{_sent:N0} events processed, {_counters.ActiveSensors:N0} sensor actors, heap {HeapReading.Format(GC.GetTotalMemory(false))}, RSS {HeapReading.Format(rss)}"));
        if (rss > settings.MaxRssBytes && !_rssLimitReached)
        {
            _rssLimitReached = true;
            output.WriteLine(FormattableString.Invariant($"RSS passed the limit of {HeapReading.Format(settings.MaxRssBytes)}: no more sensors; measuring what was reached."));
        }
    }

    private void SendEvent(IActorRef router, SensorEvent sensorEvent)
    {
        // As the engine's consumer makes it, without Kafka: one record of partition 0, its own offset tracker; the
        // original bytes are only used for dead letters, so there are none.
        var offset = _offset++;
        var tracker = new PartitionOffsetTracker("kommune.sensor-events", 0, offset);
        tracker.Start(offset);
        var consumed = new ConsumedEvent(sensorEvent, tracker, offset, null, null);
        _sent++;
        router.Tell(new RoutedEvent(consumed, MatureState.NextWatermark, _counters), ActorRefs.NoSender);
    }

    private static SensorEvent HeartbeatEvent(string sensorId, string areaId) =>
        new(sensorId, areaId, Heartbeat, MatureState.NextEventTime, new Dictionary<string, SensorValue>(StringComparer.Ordinal)
        {
            ["battery"] = 87.5,
            ["worn"] = true,
        });

    private void Print(string what, HeapReading reading) => output.WriteLine(FormattableString.Invariant(
        $"[{_elapsed.Elapsed.TotalSeconds,6:N1} s] heap {what}: live {HeapReading.Format(reading.Live)}, heap size {HeapReading.Format(reading.HeapSize)} ({HeapReading.Format(reading.Fragmented)} fragmented), committed {HeapReading.Format(reading.Committed)}, RSS {HeapReading.Format(reading.Rss)}"));

    private void Report(
        HeapReading baseline,
        HeapReading? bare,
        long bareCount,
        HeapReading full,
        long withState,
        Dictionary<string, long> created,
        Dictionary<string, (bool HasState, int SnapshotBytes)> replayed)
    {
        var before = bare ?? baseline;
        var perSensor = withState > 0 ? (double)(full.Live - before.Live) / withState : double.NaN;
        var actor = bare is { } b && bareCount > 0 ? (double)(b.Live - baseline.Live) / bareCount : double.NaN;
        var snapshot = withState > 0 ? created.Sum(c => (double)c.Value * replayed[c.Key].SnapshotBytes) / withState : double.NaN;
        var neverPassivate = withState > 0 ? created.Where(c => replayed[c.Key].HasState).Sum(c => c.Value) / (double)withState : double.NaN;

        output.WriteLine();
        output.WriteLine(FormattableString.Invariant($"Counters: {_counters.Processed:N0} events processed, {_counters.Alerts:N0} alert records, {_counters.Aggregates:N0} aggregates, {_counters.RuleFailures:N0} rule failures, {_counters.RuleDeadLetters:N0} dead letters; {_counters.ActiveSensors:N0} sensor actors, {_counters.DormantSensors:N0} sensors asleep, {_counters.ActiveAreas:N0} area actors"));
        if (_rssLimitReached)
        {
            output.WriteLine(FormattableString.Invariant($"STOPPED at the RSS limit: {withState:N0} of {settings.Sensors:N0} sensors with state were created."));
        }

        output.WriteLine();
        output.WriteLine("Bytes per sensor (live managed heap after full blocking GCs; the area actors are in the baseline; rule state");
        output.WriteLine("includes the sensor's share of its area's rule state, e.g. a parking bay's last reading)"
            + (settings.AsleepAfter is null ? ", every sensor active:" : ", once every sensor that can has gone idle (stopped, or asleep as its state's bytes):"));
        output.WriteLine();
        output.WriteLine("| type | sensors | actor without state | rule state | total per sensor | serialized snapshot (asleep) | when idle |");
        output.WriteLine("|---|---:|---:|---:|---:|---:|---|");
        var mix = string.Join(", ", created.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => FormattableString.Invariant($"{c.Key} {c.Value * 100.0 / withState:0.#} %")));
        var passivates = neverPassivate switch
        {
            0 => "stops (no rule state)",
            1 => "falls asleep as its state's bytes, unless an alert is open (then stays)",
            double.NaN => "-",
            _ => FormattableString.Invariant($"{(1 - neverPassivate) * 100:0.#} % stop (no rule state); the {neverPassivate * 100:0.#} % with state fall asleep unless an alert is open"),
        };
        output.WriteLine(FormattableString.Invariant(
            $"| {(settings.Type == SensorMix.Mixed ? $"mixed ({mix})" : settings.Type)} | {withState:N0} | {Bytes(actor)} | {Bytes(perSensor - actor)} | {Bytes(perSensor)} | {Bytes(snapshot)} | {passivates} |"));

        // The process with only the measured sensors: the baseline plus their delta (without the extra sensors of --split).
        var heap = baseline.HeapSize + (full.HeapSize - before.HeapSize);
        var live = baseline.Live + (full.Live - before.Live);
        const long Limit = 4L << 30;
        output.WriteLine();
        output.WriteLine(FormattableString.Invariant($"Heap for {withState:N0} sensors in {settings.Areas:N0} areas{(bare is null ? "" : " (the sensors without state of --split taken out)")}:"));
        output.WriteLine();
        output.WriteLine("| sensors | sensors' live heap | total live heap | total heap size | bytes per sensor | RSS | within 4 GiB of managed heap |");
        output.WriteLine("|---:|---:|---:|---:|---:|---:|---|");
        output.WriteLine(FormattableString.Invariant(
            $"| {withState:N0} | {HeapReading.Format(full.Live - before.Live)} | {HeapReading.Format(live)} | {HeapReading.Format(heap)} | {Bytes(perSensor)} | {HeapReading.Format(full.Rss)}{(bare is null ? "" : " (with --split's)")} | {(heap <= Limit ? "yes" : "no")}: {heap * 100.0 / Limit:N0} % of 4 GiB |"));
        output.WriteLine();
        output.WriteLine("Passivation: on its idle timeout a SensorActor stops when its rules hold no state and nothing is unwritten; when");
        output.WriteLine("they hold state that is all written, no open alert and no processing-time timer (a road's windows and free-flow");
        output.WriteLine("histogram, a meter's detector) it falls asleep: its area keeps the state's bytes (DormantSensors) instead of the");
        output.WriteLine("actor. A wearable with an open alert stays active. Without --asleep-after no sensor goes idle in this test, and");
        output.WriteLine("every sensor costs its full in-memory figure. With PersistState on, RuleHost also keeps a 16-byte hash of each");
        output.WriteLine("key's last written state.");
    }

    private static string Bytes(double bytes) => double.IsNaN(bytes) ? "-" : FormattableString.Invariant($"{bytes:N0} B");
}
