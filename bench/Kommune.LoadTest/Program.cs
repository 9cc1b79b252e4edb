using System.CommandLine;
using Kommune.Connectors.Simulation;
using Kommune.LoadTest;

var mixes = new Dictionary<string, SensorMix>(StringComparer.Ordinal)
{
    ["municipal"] = SensorMix.Municipal,
    ["traffic"] = SensorMix.Traffic,
};

var bootstrap = new Option<string?>("--bootstrap-servers", "-b") { Description = "An existing Kafka cluster with the engine's topics and bench.raw-in, bench.raw-out and bench.hop; default: start the embedded broker." };
var rate = new Option<double>("--rate") { Description = "Events per second offered by the fixed-rate generator; 0 offers as fast as it can.", DefaultValueFactory = _ => 0 };
var duration = new Option<double>("--duration") { Description = "Measured seconds per run, after the warm-up.", DefaultValueFactory = _ => 20 };
var warmUp = new Option<double>("--warmup") { Description = "Seconds at the rate before measuring.", DefaultValueFactory = _ => 5 };
var mix = new Option<string>("--mix")
{
    Description = $"The generator's sensors: municipal (the simulator's mix: falls, traffic, parking, energy) or traffic (every sensor a road sensor, so the congestion and congestion-area rules do the work, plus {new SimulatorOptions().FallProbes} separate fall probes sending --falls-per-minute, which latency is measured on).",
    DefaultValueFactory = _ => "municipal",
};
mix.AcceptOnlyFromAmong([.. mixes.Keys]);
var sensors = new Option<int>("--sensors") { Description = "Simulated sensors: of every kind in the municipal mix, road sensors in the traffic mix (the fall probes come on top).", DefaultValueFactory = _ => 100_000 };
var areas = new Option<int>("--areas") { Description = "Areas.", DefaultValueFactory = _ => 1_000 };
var falls = new Option<double>("--falls-per-minute") { Description = "Falls per minute in the whole network (at most a tenth of the events); latency is measured on their alerts. In the traffic mix they come from the fall probes.", DefaultValueFactory = _ => 3_000 };
var partitions = new Option<int>("--partitions") { Description = "Partitions per topic on the embedded broker.", DefaultValueFactory = _ => 12 };
var exactlyOnce = new Option<bool>("--exactly-once") { Description = "Run the engine in exactly-once mode." };
var noState = new Option<bool>("--no-state") { Description = "Run the engine without writing rule state (KOMMUNE_PersistState=false)." };
var stateDeltas = new Option<bool>("--state-deltas") { Description = "Write large states as deltas of a base (KOMMUNE_StateDeltas=true; off by default)." };
var stateInterval = new Option<double?>("--state-interval") { Description = "The engine's checkpoint interval in seconds (StateInterval; default 1)." };
var maxInFlight = new Option<int?>("--max-in-flight") { Description = "The engine's in-flight bound (MaxInFlightEvents; default 10000)." };
var findMax = new Option<bool>("--find-max") { Description = "Search each pipe's highest rate it keeps up with (lag not growing), starting at --rate (1,000 when 0): x1.5 steps, then bisection to within 15 %; a rate fallen behind at by a little is measured once more before it counts." };
var skipBaseline = new Option<bool>("--skip-baseline") { Description = "Do not run the raw Confluent.Kafka pipe first." };
var skipEngine = new Option<bool>("--skip-engine") { Description = "Do not run the engine: the raw pipe and the broker hop only." };
var separateGenerator = new Option<bool>("--separate-generator")
{
    Description = "Run each measured run's fixed-rate generator and latency reader in a child process of their own (this program's load-client command) instead of this process, so that their garbage collector, thread pool and librdkafka threads are not those of the pipe under test and the broker; they report their falls back, so the table stays one table. Not with --area-latency or --rebalance. The broker hop is measured the same way.",
};
var separateBroker = new Option<bool>("--separate-broker") { Description = "Run the embedded broker in a child process of its own (this program's broker command) instead of this process." };
var nodes = new Option<int>("--nodes") { Description = "0 (default): the engine in this process. 1 or more: that many engine nodes as `kommune run` child processes in one group on the same broker (throughput then sums their kommune_events_processed_total)." };
var rebalance = new Option<bool>("--rebalance") { Description = "With --nodes N (2 or more): the rebalance scenario instead of the load test: after the warm-up a quiet step, then node N+1 joins, the first is stopped with SIGTERM, the next killed with SIGKILL; the pause of the partitions that moved, per step." };
var phase = new Option<double>("--phase") { Description = "Rebalance scenario: seconds each step is watched after the nodes own every partition again.", DefaultValueFactory = _ => 20 };
var sessionTimeout = new Option<double?>("--session-timeout") { Description = "Nodes only: their SessionTimeout in seconds (default the engine's, 10)." };
var areaLatency = new Option<bool>("--area-latency") { Description = "Also measure the outputs of event-time timers on both sides of the repartition topic: segment facts written to it, area aggregates and alerts after it (run at least a few minutes: they come once a minute)." };
var timerDump = new Option<string?>("--timer-dump") { Description = "With --area-latency: write every timer output counted to this CSV file (kind, id, due, topic/partition, latency ms)." };
var fallDump = new Option<string?>("--fall-dump") { Description = "Write each fall's first output to this CSV file: run, id, measured (0 in the warm-up), and ms from the generator's start to the fall's intended send time, to the engine producing the output and to the output being readable." };
var drain = new Option<bool>("--drain") { Description = "The drain benchmark instead of the load test: pre-fill --events simulator events (--sensors, default partitions 64), then drain them from the start with a hand-written consume → filter falls → produce loop and with the engine (fall-alert rule only), --rounds times, the order alternating; one table with the ratio." };
var events = new Option<long>("--events") { Description = "Drain benchmark: events pre-filled.", DefaultValueFactory = _ => 1_000_000 };
var rounds = new Option<int>("--rounds") { Description = "Drain benchmark: rounds of loop and engine (odd rounds the loop first, even the engine).", DefaultValueFactory = _ => 2 };
var incidents = new Option<bool>("--incidents") { Description = "Play the simulator's scripted incidents (a jam in area-002 from 30 s to 8 min, a full car park in area-003, an energy spike), so that congestion alerts are raised." };

var root = new RootCommand("Load test: the raw Confluent.Kafka consume → produce pipe and the engine on the same broker, at a fixed rate with coordinated-omission-corrected latency, in one table.")
{
    bootstrap, rate, duration, warmUp, mix, sensors, areas, falls, partitions, exactlyOnce, noState, stateDeltas, stateInterval, maxInFlight, findMax, skipBaseline,
    skipEngine, separateGenerator, separateBroker, nodes, rebalance, phase, sessionTimeout, areaLatency, timerDump, fallDump, incidents,
    drain, events, rounds,
};
AtLeast(rate, 0);
AtLeast(warmUp, 0);
AtLeast(duration, 1);
AtLeast(sensors, 10);
AtLeast(areas, 1);
AtLeast(partitions, 1);
AtLeast(nodes, 0);
AtLeast(phase, 5);
AtLeast(events, 1);
AtLeast(rounds, 1);
root.SetAction(async (parse, cancellationToken) =>
{
    var settings = new LoadSettings
    {
        BootstrapServers = parse.GetValue(bootstrap),
        Rate = parse.GetValue(rate),
        Duration = TimeSpan.FromSeconds(parse.GetValue(duration)),
        WarmUp = TimeSpan.FromSeconds(parse.GetValue(warmUp)),
        Mix = mixes[parse.GetValue(mix)!],
        Sensors = parse.GetValue(sensors),
        Areas = parse.GetValue(areas),
        FallsPerMinute = parse.GetValue(falls),
        Partitions = parse.GetValue(drain) && parse.GetResult(partitions) is null or { Implicit: true } ? 64 : parse.GetValue(partitions),
        ExactlyOnce = parse.GetValue(exactlyOnce),
        SkipBaseline = parse.GetValue(skipBaseline),
        SkipEngine = parse.GetValue(skipEngine),
        SeparateGenerator = parse.GetValue(separateGenerator),
        SeparateBroker = parse.GetValue(separateBroker),
        FindMax = parse.GetValue(findMax),
        PersistState = !parse.GetValue(noState),
        StateDeltas = parse.GetValue(stateDeltas),
        StateInterval = parse.GetValue(stateInterval) is { } interval ? TimeSpan.FromSeconds(interval) : null,
        MaxInFlightEvents = parse.GetValue(maxInFlight),
        Nodes = parse.GetValue(nodes),
        Rebalance = parse.GetValue(rebalance),
        Phase = TimeSpan.FromSeconds(parse.GetValue(phase)),
        SessionTimeout = parse.GetValue(sessionTimeout) is { } session ? TimeSpan.FromSeconds(session) : null,
        AreaLatency = parse.GetValue(areaLatency),
        TimerDump = parse.GetValue(timerDump),
        FallDump = parse.GetValue(fallDump),
        Incidents = parse.GetValue(incidents),
        Drain = parse.GetValue(drain),
        Events = parse.GetValue(events),
        Rounds = parse.GetValue(rounds),
    };
    if (settings.Drain)
    {
        if (settings.Nodes > 0 || settings.Rebalance || settings.FindMax)
        {
            await Console.Error.WriteLineAsync("--drain runs the engine in this process: not with --nodes, --rebalance or --find-max.");
            return 1;
        }

        return await new DrainRun(settings, Console.Out).RunAsync(cancellationToken);
    }

    if (settings.Rebalance && settings.Nodes < 2)
    {
        await Console.Error.WriteLineAsync("--rebalance needs --nodes 2 or more (one is stopped and one killed; the one that joined is left).");
        return 1;
    }

    if (settings.SeparateGenerator && (settings.Rebalance || settings.AreaLatency))
    {
        await Console.Error.WriteLineAsync("--separate-generator does not work with --rebalance or --area-latency yet: their readers need the generator in this process.");
        return 1;
    }

    if (settings.Nodes > settings.Partitions)
    {
        await Console.Error.WriteLineAsync($"--nodes {settings.Nodes} is more than the {settings.Partitions} partitions: a node would have nothing to do.");
        return 1;
    }

    return settings.Rebalance
        ? await new RebalanceRun(settings, Console.Out).RunAsync(cancellationToken)
        : await new LoadRun(settings, Console.Out).RunAsync(cancellationToken);
});
root.Subcommands.Add(LoadClientCommand.Build());
root.Subcommands.Add(BrokerCommand.Build());
return await root.Parse(args).InvokeAsync();

static void AtLeast<T>(Option<T> option, double minimum) => option.Validators.Add(r =>
{
    var value = Convert.ToDouble(r.GetValueOrDefault<T>(), System.Globalization.CultureInfo.InvariantCulture);
    if (double.IsNaN(value) || value < minimum)
    {
        r.AddError($"{option.Name} must be at least {minimum}, not {value}.");
    }
});
