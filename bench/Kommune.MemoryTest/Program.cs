using System.CommandLine;
using Kommune.MemoryTest;

var sensors = new Option<int>("--sensors") { Description = "Live sensors to create, each with its actor and its type's mature rule state.", DefaultValueFactory = _ => 1_000_000 };
var areas = new Option<int>("--areas") { Description = "Areas the sensors are spread over (sensor i is in area i mod areas).", DefaultValueFactory = _ => 1_000 };
var type = new Option<string>("--type")
{
    Description = "mixed (the simulator's municipal mix: 10 % fall, 40 % traffic, 30 % parking, 20 % energy) or one type: fall, traffic, parking, energy.",
    DefaultValueFactory = _ => SensorMix.Mixed,
};
type.AcceptOnlyFromAmong([SensorMix.Mixed, .. SensorMix.Types]);
var split = new Option<bool>("--split")
{
    Description = "First create as many sensors again with one event no rule keeps state for (the actor without state), measure, then the sensors with state: "
        + "splits bytes per sensor into actor and rule state (needs about twice the memory).",
};
var asleepAfter = new Option<double?>("--asleep-after")
{
    Description = "The sensors' idle timeout in seconds: the heap is read after every sensor that can has gone idle (stopped, or fallen asleep as its "
        + "state's bytes: a road's, a meter's; a wearable with an open alert stays), not while all are active. Not with --split.",
};
var persist = new Option<bool>("--persist")
{
    Description = "Persist state as the engine does by default (12 state partitions, a state interval of 1 s; the records are acknowledged and not kept): "
        + "each key then also keeps the offsets its state covers and a hash of its last written state.",
};
var hold = new Option<bool>("--hold")
{
    Description = "After the report, keep the process and its actors alive until a line is read from standard input: time to take a heap dump "
        + "(dotnet-gcdump collect -p <pid>) of exactly what was measured.",
};
var rules = new Option<string?>("--rules") { Description = "The rules file; default: the engine's demo-rules.json (every built-in rule family)." };
var maxRss = new Option<double>("--max-rss-gib") { Description = "Stop creating sensors once the process's RSS passes this many GiB, and report what was reached.", DefaultValueFactory = _ => 12 };
var inFlight = new Option<int>("--in-flight") { Description = "Events sent and not yet processed at most (flow control, so queued messages do not inflate the heap).", DefaultValueFactory = _ => 20_000 };

var root = new RootCommand(
    "Memory test: the managed heap of N live sensors of the engine's real actor tree (router → area → sensor) with the "
    + "built-in rules, each sensor's rule state restored from a mature snapshot of its type, measured with full blocking GCs.")
{
    sensors, areas, type, split, asleepAfter, persist, hold, rules, maxRss, inFlight,
};
AtLeast(sensors, 1);
AtLeast(areas, 1);
AtLeast(maxRss, 0.5);
AtLeast(inFlight, 1);
asleepAfter.Validators.Add(r =>
{
    if (r.GetValueOrDefault<double?>() is { } seconds && (double.IsNaN(seconds) || seconds < 1))
    {
        r.AddError($"--asleep-after must be at least 1 second, not {seconds}.");
    }
});
root.Validators.Add(r =>
{
    if (r.GetValue(split) && r.GetValue(asleepAfter) is not null)
    {
        r.AddError("--split and --asleep-after do not go together: the sensors without state of --split would stop.");
    }
});
root.SetAction(parse =>
{
    var settings = new MemorySettings
    {
        Sensors = parse.GetValue(sensors),
        Areas = parse.GetValue(areas),
        Type = parse.GetValue(type)!,
        Split = parse.GetValue(split),
        Hold = parse.GetValue(hold),
        Persist = parse.GetValue(persist),
        AsleepAfter = parse.GetValue(asleepAfter) is { } seconds ? TimeSpan.FromSeconds(seconds) : null,
        RulesFile = parse.GetValue(rules) ?? Path.Combine(AppContext.BaseDirectory, "demo-rules.json"),
        MaxRssBytes = (long)(parse.GetValue(maxRss) * 1024 * 1024 * 1024),
        MaxInFlight = parse.GetValue(inFlight),
    };
    return new MemoryRun(settings, Console.Out).Run();
});
return await root.Parse(args).InvokeAsync();

static void AtLeast<T>(Option<T> option, double minimum) => option.Validators.Add(r =>
{
    var value = Convert.ToDouble(r.GetValueOrDefault<T>(), System.Globalization.CultureInfo.InvariantCulture);
    if (double.IsNaN(value) || value < minimum)
    {
        r.AddError($"{option.Name} must be at least {minimum}, not {value}.");
    }
});
