using System.Globalization;
using System.Text;
using System.Text.Json;
using Kommune.Connectors.Simulation;
using Kommune.Rules.Api;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;

namespace Kommune.MemoryTest;

/// <summary>
/// One sensor type's rule state as a running node has it: built once by running a <see cref="KeyedRuleRunner"/> with
/// the engine's sensor rules through a simulated history of one sensor of that type (the simulator's values), then
/// written as the engine's checkpoint writes it. Every sensor of the type gets its own copy restored from that JSON.
/// </summary>
internal sealed class MatureState : IDisposable
{
    /// <summary>Where every history ends (a Wednesday noon, UTC, so the last readings are daytime ones).</summary>
    public static readonly DateTimeOffset End = new(2026, 2, 4, 12, 0, 0, TimeSpan.Zero);

    /// <summary>
    /// The time of the one event each sensor gets after its restore: 70 s after <see cref="End"/>, so that with the
    /// watermark 5 s behind it the last open minute window of the history closes (and its state is read).
    /// </summary>
    public static readonly DateTimeOffset NextEventTime = End.AddSeconds(70);

    /// <summary>The watermark that event is routed under: the engine's default out-of-orderness (5 s) behind it.</summary>
    public static readonly DateTimeOffset NextWatermark = NextEventTime.AddSeconds(-5);

    private readonly IReadOnlyDictionary<string, SensorValue> _nextValues;
    private readonly KeyedStateSnapshot? _template;
    private readonly JsonDocument? _document;

    /// <summary>Per rule of <see cref="_template"/>, its values inside one parsed document that stays open (so Clone copies them).</summary>
    private readonly List<Dictionary<string, JsonElement>>? _values;

    private MatureState(string type, string history, byte[]? json, string nextType, IReadOnlyDictionary<string, SensorValue> nextValues, RunnerOutputs outputs, long events)
    {
        Type = type;
        History = history;
        Json = json;
        NextType = nextType;
        _nextValues = nextValues;
        Outputs = outputs;
        Events = events;
        if (json is null)
        {
            return;
        }

        _template = KeyedStateSnapshot.FromJson(json);
        _document = JsonDocument.Parse(json); // stays open: the source of every sensor's copy
        _values = [.. _document.RootElement.GetProperty("rules").EnumerateArray()
            .Select(rule => rule.GetProperty("values").EnumerateObject().ToDictionary(v => v.Name, v => v.Value, StringComparer.Ordinal))];
    }

    /// <summary>Closes the parsed template (the sensors' copies stay valid).</summary>
    public void Dispose() => _document?.Dispose();

    /// <summary>The sensor type.</summary>
    public string Type { get; }

    /// <summary>What history built the state, in words.</summary>
    public string History { get; }

    /// <summary>The snapshot as the engine's checkpoint writes it (UTF-8 JSON), or null when no rule keeps state for the type.</summary>
    public byte[]? Json { get; }

    /// <summary>The event type of the one event each sensor gets after its restore (the type's own).</summary>
    public string NextType { get; }

    /// <summary>What the rules emitted during the history.</summary>
    public RunnerOutputs Outputs { get; }

    /// <summary>Events of the sensor the history had.</summary>
    public long Events { get; }

    /// <summary>Runs the sensor rules of <paramref name="rules"/> through the history of one sensor of <paramref name="type"/>.</summary>
    public static MatureState Build(string type, RuleSet rules, EventTimeSettings settings)
    {
        // Per type: how long a sensor has been reporting and how often, enough for its windows and baselines to be full:
        // the congestion rule's free-flow histogram has a 7-day half-life; the energy detector's hour-of-week profile
        // keeps four weeks of passes; a fall wearable's history only decides whether an alert is open.
        var (history, step) = type switch
        {
            SensorTypes.Fall => (TimeSpan.FromDays(1), TimeSpan.FromSeconds(10)),
            SensorTypes.Traffic => (TimeSpan.FromDays(7), TimeSpan.FromSeconds(10)),
            SensorTypes.Parking => (TimeSpan.FromHours(1), TimeSpan.FromMinutes(1)),
            SensorTypes.Energy => (TimeSpan.FromDays(28), TimeSpan.FromMinutes(1)),
            _ => throw new ArgumentOutOfRangeException(nameof(type), type, "not a built-in sensor type"),
        };

        // Ten sensors in one area: one of each slot of the municipal mix, so sensor i has the type of slot i.
        const int Sensors = 10;
        var simulator = new SensorSimulator(new SimulatorOptions { Sensors = Sensors, Areas = 1 });
        var index = Enumerable.Range(0, Sensors).First(i => SensorMix.TypeOf(SensorMix.Mixed, i, 1) == type);
        var sensorId = SensorMix.Id(type, index);
        var outOfOrderness = settings.OutOfOrderness;
        var runner = new KeyedRuleRunner(RuleScope.Sensor, sensorId, SensorMix.Area(0, 1), rules, settings);
        var outputs = new RunnerOutputs();
        SensorEvent? lastOfType = null;
        long events = 0;
        for (var time = End - history; time < End; time += step)
        {
            for (var i = 0; i < Sensors; i++)
            {
                var next = simulator.Next(time);
                if (next.SensorId != sensorId)
                {
                    continue;
                }

                runner.OnEvent(next, time - outOfOrderness, time, outputs);
                events++;
                if (next.Type == type)
                {
                    lastOfType = next;
                }
            }
        }

        // Let processing time run on (a fall's escalation timers fire), so no timer is left that the actor would
        // schedule against the real clock.
        runner.Advance(End - outOfOrderness, End + TimeSpan.FromHours(1), outputs);
        var json = runner.HasState ? (runner.Snapshot() with { Watermark = DateTimeOffset.MinValue }).ToJson() : null;
        var words = string.Create(CultureInfo.InvariantCulture, $"{Duration(history)} of events every {Duration(step)} ({events:N0} events)");
        return new MatureState(type, words, json, type, lastOfType?.Values ?? new Dictionary<string, SensorValue>(), outputs, events);
    }

    /// <summary>
    /// The snapshot for one sensor, with its key, area and open alerts' ids; null when the type keeps no state. Each
    /// sensor gets its own copy of every JSON value, as when the engine reads a state record: the values are cloned
    /// out of one parsed document of <see cref="Json"/> (a byte copy, no parsing per sensor).
    /// </summary>
    public KeyedStateSnapshot? For(string sensorId, string areaId)
    {
        if (_template is not { } template)
        {
            return null;
        }

        var rules = new List<RuleStateSnapshot>(template.Rules.Count);
        for (var r = 0; r < template.Rules.Count; r++)
        {
            var rule = template.Rules[r];
            var values = new Dictionary<string, JsonElement>(rule.Values.Count, StringComparer.Ordinal);
            foreach (var (name, element) in _values![r])
            {
                values[name] = element.Clone();
            }

            rules.Add(rule with
            {
                Values = values,
                // The alert id is "<binding>:<key>:<incident>" (KeyedRuleRunner): the sensor's own.
                OpenAlerts = rule.OpenAlerts.ToDictionary(
                    a => a.Key,
                    a => a.Value with
                    {
                        AlertId = $"{rule.Name}:{sensorId}:{a.Key}",
                        SensorId = sensorId,
                        AreaId = areaId,
                        Evidence = new Dictionary<string, SensorValue>(a.Value.Evidence, StringComparer.Ordinal),
                    },
                    StringComparer.Ordinal),
            });
        }

        return template with { Key = sensorId, AreaId = areaId, Rules = rules };
    }

    /// <summary>The one event a sensor gets after its restore: its type, values as the simulator makes them (its own copy).</summary>
    public SensorEvent NextEvent(string sensorId, string areaId) =>
        new(sensorId, areaId, NextType, NextEventTime, new Dictionary<string, SensorValue>(_nextValues, StringComparer.Ordinal));

    /// <summary>
    /// Does to a fresh runner what the sensor actor does (restore, then the one event) and reports what it then holds:
    /// whether it has state (then the actor never passivates) and its snapshot's size (what it would cost passivated).
    /// </summary>
    public (bool HasState, int SnapshotBytes) Replay(RuleSet rules, EventTimeSettings settings)
    {
        var sensorId = SensorMix.Id(Type, 1);
        var areaId = SensorMix.Area(0, 1);
        var runner = new KeyedRuleRunner(RuleScope.Sensor, sensorId, areaId, rules, settings);
        if (For(sensorId, areaId) is { } snapshot)
        {
            runner.Restore(snapshot);
        }

        runner.OnEvent(NextEvent(sensorId, areaId), NextWatermark, DateTimeOffset.UtcNow, new RunnerOutputs());
        return runner.HasState
            ? (true, (runner.Snapshot() with { Watermark = DateTimeOffset.MinValue }).ToJson().Length)
            : (false, 0);
    }

    /// <summary>What the state consists of, one line per rule and value.</summary>
    public IEnumerable<string> Describe()
    {
        yield return string.Create(
            CultureInfo.InvariantCulture,
            $"{Type}: {History}; rules emitted {Outputs.Alerts:N0} alert records, {Outputs.Aggregates:N0} aggregates, {Outputs.Facts:N0} facts, {Outputs.Failures:N0} rule failures{Outputs.FirstFailure}");
        if (Json is null)
        {
            yield return "  no sensor-scoped rule keeps state for this type: its actor's runner holds nothing (area-scoped rules such as"
                + " parking keep the sensor's last readings in its area's state, which is counted with the sensor)";
            yield break;
        }

        var snapshot = KeyedStateSnapshot.FromJson(Json);
        yield return string.Create(CultureInfo.InvariantCulture, $"  snapshot: {Json.Length:N0} B of JSON, {snapshot.Rules.Count} rule(s) with state");
        foreach (var rule in snapshot.Rules)
        {
            foreach (var (name, value) in rule.Values)
            {
                var bytes = Encoding.UTF8.GetByteCount(value.GetRawText());
                yield return string.Create(CultureInfo.InvariantCulture, $"  {rule.Name}.{name} ({bytes:N0} B): {Shape(value, top: true)}");
            }

            foreach (var (incident, alert) in rule.OpenAlerts)
            {
                yield return string.Create(
                    CultureInfo.InvariantCulture,
                    $"  {rule.Name}: open alert '{incident}' ({alert.Status}, level {alert.Level}, {alert.Evidence?.Count ?? 0} evidence values)");
            }

            if (rule.Timers.Count > 0)
            {
                var domains = string.Join(", ", rule.Timers.GroupBy(t => t.Domain).Select(g => $"{g.Count()} {g.Key}"));
                yield return $"  {rule.Name}: timers: {domains}";
            }
        }
    }

    /// <summary>A value's shape: its containers with their sizes, and how many numbers it holds.</summary>
    private static string Shape(JsonElement value, bool top)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Array:
                {
                    var count = value.GetArrayLength();
                    var nested = value.EnumerateArray().Any(v => v.ValueKind is JsonValueKind.Array or JsonValueKind.Object);
                    return nested
                        ? string.Create(CultureInfo.InvariantCulture, $"{count} lists ({Numbers(value):N0} numbers)")
                        : string.Create(CultureInfo.InvariantCulture, $"{count} numbers");
                }

            case JsonValueKind.Object:
                {
                    var fields = value.EnumerateObject().ToList();
                    if (!top)
                    {
                        return string.Create(CultureInfo.InvariantCulture, $"{fields.Count} entries ({Numbers(value):N0} numbers)");
                    }

                    var containers = fields.Where(f => f.Value.ValueKind is JsonValueKind.Array or JsonValueKind.Object)
                        .Select(f => $"{f.Name}: {Shape(f.Value, top: false)}").ToList();
                    var scalars = fields.Count - containers.Count;
                    if (containers.Count == 0)
                    {
                        return string.Create(CultureInfo.InvariantCulture, $"{scalars} fields");
                    }

                    // A map keyed by numbers (window starts, histogram bins) reads better as its size.
                    if (fields.All(f => long.TryParse(f.Name, NumberStyles.Integer, CultureInfo.InvariantCulture, out _)))
                    {
                        return string.Create(CultureInfo.InvariantCulture, $"{fields.Count} entries ({Numbers(value):N0} numbers)");
                    }

                    return string.Join("; ", containers) + string.Create(CultureInfo.InvariantCulture, $"; {scalars} scalar fields");
                }

            default:
                return value.ValueKind.ToString().ToLowerInvariant();
        }
    }

    private static long Numbers(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Number => 1,
        JsonValueKind.Array => value.EnumerateArray().Sum(Numbers),
        JsonValueKind.Object => value.EnumerateObject().Sum(p => Numbers(p.Value)),
        _ => 0,
    };

    private static string Duration(TimeSpan span) => span switch
    {
        { TotalDays: >= 2 } => string.Create(CultureInfo.InvariantCulture, $"{span.TotalDays:0.#} days"),
        { TotalHours: >= 1 } => string.Create(CultureInfo.InvariantCulture, $"{span.TotalHours:0.#} h"),
        { TotalMinutes: >= 1 } => string.Create(CultureInfo.InvariantCulture, $"{span.TotalMinutes:0.#} min"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{span.TotalSeconds:0.#} s"),
    };
}

/// <summary>Counts what the rules of a history emitted.</summary>
internal sealed class RunnerOutputs : IRuleOutputs
{
    public long Alerts { get; private set; }

    public long Aggregates { get; private set; }

    public long Facts { get; private set; }

    public long Failures { get; private set; }

    /// <summary>The first rule failure, as ": rule threw …", or empty.</summary>
    public string FirstFailure { get; private set; } = "";

    public void Alert(Alert alert) => Alerts++;

    public void Aggregate(Aggregate aggregate) => Aggregates++;

    public void Fact(Fact fact) => Facts++;

    public void RuleFailed(string ruleName, string handler, Exception exception)
    {
        if (Failures++ == 0)
        {
            FirstFailure = $": {ruleName} threw {exception.GetType().Name} in {handler}: {exception.Message}";
        }
    }
}
