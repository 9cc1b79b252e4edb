using System.Globalization;
using System.Runtime.InteropServices;
using Kommune.Rules.Api;
using Kommune.Rules.Model;

namespace Kommune.Rules.BuiltIn;

/// <summary>
/// Energy use per area (area-scoped, type <c>energy</c>): for each <c>window</c> (default 15 minutes, aligned to the
/// epoch), once the watermark passes its end, emits <c>energy.kwh</c>: the sum over the area's meters of each
/// meter's mean power (<c>value</c>, default <c>kw</c>) times the window's length in hours, with the number of
/// meters as count. A reading that arrives after its window was emitted, within the allowed lateness, emits the
/// window again (same aggregate key: the latest wins). Windows are dropped when the watermark passes end + allowed
/// lateness.
/// </summary>
[Rule(RuleName)]
public sealed class EnergyAreaRule : Rule
{
    /// <summary>The name a rules file binds: <c>energy-area</c>.</summary>
    public const string RuleName = "energy-area";

    /// <summary>The metric emitted.</summary>
    public const string Metric = "energy.kwh";

    private const string WindowsState = "windows";
    private readonly string _value;
    private readonly TimeSpan _window;

    /// <summary>Reads <c>value</c> (default <c>"kw"</c>) and <c>window</c> (default <c>"15m"</c>, at least a minute).</summary>
    /// <exception cref="RuleParameterException">A parameter is wrong; the message names it.</exception>
    public EnergyAreaRule(RuleParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _value = parameters.GetText("value", "kw");
        _window = parameters.GetDuration("window", TimeSpan.FromMinutes(15));
        if (_window < TimeSpan.FromMinutes(1))
        {
            throw new RuleParameterException("window", $"must be at least a minute, not {_window}");
        }
    }

    /// <inheritdoc />
    public override RuleScope Scope => RuleScope.Area;

    /// <inheritdoc />
    public override IReadOnlyCollection<string> SensorTypes { get; } = [Model.SensorTypes.Energy];

    /// <inheritdoc />
    public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(sensorEvent);
        if (!sensorEvent.TryGetNumber(_value, out var power))
        {
            return;
        }

        var size = (long)_window.TotalMilliseconds;
        var start = Minutes.Floor(sensorEvent.Timestamp, _window);
        if (DateTimeOffset.FromUnixTimeMilliseconds(start + size) + context.AllowedLateness <= context.Watermark)
        {
            return; // its window is already dropped
        }

        var state = context.State<SortedDictionary<long, EnergyWindow>>(WindowsState);
        var windows = state.Value ?? [];
        if (!windows.TryGetValue(start, out var window))
        {
            window = new EnergyWindow();
            windows[start] = window;
            var end = DateTimeOffset.FromUnixTimeMilliseconds(start + size);
            context.SetEventTimeTimer(Name("emit", start), end);
            context.SetEventTimeTimer(Name("drop", start), end + context.AllowedLateness);
        }

        // In place: a value in the window's table, not an object per reading that the (long-lived) table would keep.
        ref var meter = ref CollectionsMarshal.GetValueRefOrAddDefault(window.Meters, sensorEvent.SensorId, out _);
        meter = new MeterSum(meter.Sum + power, meter.Count + 1);
        state.Update(windows);
        if (window.Emitted)
        {
            Emit(context, start, window);
        }
    }

    /// <inheritdoc />
    public override void OnTimer(IRuleContext context, RuleTimer timer)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(timer);
        var parts = timer.Name.Split(':');
        if (parts.Length != 2 || !long.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var start))
        {
            return;
        }

        var state = context.State<SortedDictionary<long, EnergyWindow>>(WindowsState);
        if (state.Value is not { } windows || !windows.TryGetValue(start, out var window))
        {
            return;
        }

        if (parts[0] == "emit")
        {
            window.Emitted = true;
            Emit(context, start, window);
        }
        else
        {
            windows.Remove(start);
        }

        if (windows.Count == 0)
        {
            state.Clear();
        }
        else
        {
            state.Update(windows);
        }
    }

    private void Emit(IRuleContext context, long start, EnergyWindow window)
    {
        // Summed in the meters' order, not the order they first reported in: that order differs between runs on several
        // nodes, and a floating-point sum with it in its last bits.
        var kwh = 0.0;
        foreach (var meter in window.Meters.OrderBy(m => m.Key, StringComparer.Ordinal))
        {
            kwh += meter.Value.Sum / meter.Value.Count;
        }

        kwh *= _window.TotalHours;
        var from = DateTimeOffset.FromUnixTimeMilliseconds(start);
        context.EmitAggregate(Metric, from, from + _window, kwh, window.Meters.Count);
    }

    private static string Name(string kind, long start) => string.Create(CultureInfo.InvariantCulture, $"{kind}:{start}");

    /// <summary>One window of one area: per meter, the sum and number of its readings.</summary>
    public sealed class EnergyWindow
    {
        /// <summary>Per meter id.</summary>
        public Dictionary<string, MeterSum> Meters { get; set; } = new(StringComparer.Ordinal);

        /// <summary>Whether the window was emitted (later readings re-emit it).</summary>
        public bool Emitted { get; set; }
    }

    /// <summary>The sum and count of one meter's readings in a window (a value: kept in its window's table itself).</summary>
    /// <param name="Sum">Sum of the readings.</param>
    /// <param name="Count">Number of readings.</param>
    public readonly record struct MeterSum(double Sum = 0, long Count = 0);
}
