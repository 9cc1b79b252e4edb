using System.Globalization;
using Kommune.Rules.Api;

namespace Kommune.Rules.Windows;

/// <summary>
/// Event-time windows with statistics (count, sum, min, max, mean, percentiles) that a rule composes: keep one as a
/// field (it holds no state of its own), call <see cref="Add"/> from <see cref="Rule.OnEvent"/> and
/// <see cref="OnTimer"/> first thing in <see cref="Rule.OnTimer"/>.
/// <code>
/// private readonly WindowedAggregation _flow = new("flow", WindowSpec.Tumbling(TimeSpan.FromMinutes(5)),
///     (context, result) =&gt; result.EmitAggregate(context, "traffic.flow", r =&gt; r.Mean));
///
/// public override void OnEvent(IRuleContext context, SensorEvent e)
/// {
///     if (e.TryGetNumber("vehicles", out var vehicles)) _flow.Add(context, e.Timestamp, vehicles);
/// }
///
/// public override void OnTimer(IRuleContext context, RuleTimer timer)
/// {
///     if (_flow.OnTimer(context, timer)) return;
///     // the rule's own timers
/// }
/// </code>
/// </summary>
/// <remarks>
/// <para>
/// A window's result is handed to the callback once the watermark reaches its end (an event-time timer at the
/// end). An event that arrives later but within <see cref="IRuleContext.AllowedLateness"/> of the watermark and
/// changes a window already emitted emits it again at once, with <see cref="WindowResult.IsUpdate"/> set. A window's
/// state is dropped when the watermark reaches its end plus the allowed lateness (a second timer); an event for a
/// window already that old is ignored (the engine sends such events to the late output before they reach a rule).
/// </para>
/// <para>
/// State: one keyed state value named <c>{name}:windows</c>, a sorted dictionary of the open windows by start
/// (Unix ms). Timers: <c>{name}:fire:{start}</c> and <c>{name}:purge:{start}</c>. Several aggregations with
/// different names can live in one rule; a rule must not use those names itself.
/// </para>
/// </remarks>
public sealed class WindowedAggregation
{
    private readonly Action<IRuleContext, WindowResult> _onResult;
    private readonly string _stateName;
    private readonly string _firePrefix;
    private readonly string _purgePrefix;

    /// <summary>An aggregation over <paramref name="windows"/>.</summary>
    /// <param name="name">Names its state and timers; unique within the rule. Must not contain ':'.</param>
    /// <param name="windows">How events are grouped: <see cref="WindowSpec.Tumbling"/>, <see cref="WindowSpec.Hopping"/> or <see cref="WindowSpec.Session"/>.</param>
    /// <param name="onResult">
    /// Gets each result with the context of the handler that produced it (<see cref="OnTimer"/>, or <see cref="Add"/>
    /// for an update), for example to call <see cref="WindowResult.EmitAggregate"/>.
    /// </param>
    public WindowedAggregation(string name, WindowSpec windows, Action<IRuleContext, WindowResult> onResult)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(windows);
        ArgumentNullException.ThrowIfNull(onResult);
        if (name.Contains(':', StringComparison.Ordinal))
        {
            throw new ArgumentException("An aggregation's name must not contain ':'.", nameof(name));
        }

        Name = name;
        Windows = windows;
        _onResult = onResult;
        _stateName = name + ":windows";
        _firePrefix = name + ":fire:";
        _purgePrefix = name + ":purge:";
    }

    /// <summary>The aggregation's name.</summary>
    public string Name { get; }

    /// <summary>How it groups events into windows.</summary>
    public WindowSpec Windows { get; }

    /// <summary>
    /// Adds a value observed at <paramref name="eventTime"/> to every window that contains it (merging sessions it
    /// joins). Emits an update at once for a window whose end the watermark has already passed.
    /// </summary>
    /// <param name="context">The handler's context.</param>
    /// <param name="eventTime">When the value was observed, usually the event's timestamp.</param>
    /// <param name="value">A finite number.</param>
    /// <exception cref="ArgumentOutOfRangeException">The value is NaN or infinite.</exception>
    public void Add(IRuleContext context, DateTimeOffset eventTime, double value)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!double.IsFinite(value))
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, "Only finite values can be aggregated.");
        }

        var state = context.State<SortedDictionary<long, WindowAccumulator>>(_stateName);
        var windows = state.Value ?? [];
        var time = eventTime.ToUnixTimeMilliseconds();
        var changed = new List<WindowAccumulator>();
        if (Windows.Kind == WindowKind.Session)
        {
            if (AddToSession(context, windows, time, value) is { } session)
            {
                changed.Add(session);
            }
        }
        else
        {
            foreach (var start in Windows.StartsOf(time))
            {
                if (AddToWindow(context, windows, start, start + (long)Windows.Size.TotalMilliseconds, value) is { } window)
                {
                    changed.Add(window);
                }
            }
        }

        if (changed.Count == 0)
        {
            return;
        }

        state.Update(windows);
        foreach (var window in changed)
        {
            if (Time(window.End) <= context.Watermark)
            {
                Emit(context, window);
            }
        }
    }

    /// <summary>
    /// Handles a timer if it is one of this aggregation's: emits the window whose end the watermark reached, or
    /// drops a window past its allowed lateness.
    /// </summary>
    /// <param name="context">The handler's context.</param>
    /// <param name="timer">The timer that fired.</param>
    /// <returns>true when the timer was this aggregation's (the rule should not handle it further).</returns>
    public bool OnTimer(IRuleContext context, RuleTimer timer)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(timer);
        if (timer.Domain != TimeDomain.EventTime)
        {
            return false;
        }

        bool purge;
        long start;
        if (TryParse(timer.Name, _firePrefix, out start))
        {
            purge = false;
        }
        else if (TryParse(timer.Name, _purgePrefix, out start))
        {
            purge = true;
        }
        else
        {
            return false;
        }

        var state = context.State<SortedDictionary<long, WindowAccumulator>>(_stateName);
        if (state.Value is not { } windows || !windows.TryGetValue(start, out var window))
        {
            return true;
        }

        if (window.Changed)
        {
            Emit(context, window);
        }

        if (purge)
        {
            context.CancelTimer(_firePrefix + Format(start));
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

        return true;
    }

    private WindowAccumulator? AddToWindow(IRuleContext context, SortedDictionary<long, WindowAccumulator> windows, long start, long end, double value)
    {
        if (IsExpired(context, end))
        {
            return null;
        }

        if (!windows.TryGetValue(start, out var window))
        {
            window = new WindowAccumulator { Start = start, End = end };
            windows[start] = window;
            SetTimers(context, window);
        }

        window.Add(value);
        return window;
    }

    private WindowAccumulator? AddToSession(IRuleContext context, SortedDictionary<long, WindowAccumulator> windows, long time, double value)
    {
        var session = new WindowAccumulator { Start = time, End = time + (long)Windows.Size.TotalMilliseconds };
        if (IsExpired(context, session.End))
        {
            return null;
        }

        session.Add(value);
        // Open sessions never overlap each other, so every one that overlaps the new event's interval merges with it.
        var overlapping = windows.Values.Where(w => w.Start < session.End && session.Start < w.End).ToList();
        foreach (var other in overlapping)
        {
            windows.Remove(other.Start);
            context.CancelTimer(_firePrefix + Format(other.Start));
            context.CancelTimer(_purgePrefix + Format(other.Start));
            if (other.Emitted)
            {
                session.Replaced.Add(other.Start);
            }

            session.Merge(other);
        }

        windows[session.Start] = session;
        SetTimers(context, session);
        return session;
    }

    private void SetTimers(IRuleContext context, WindowAccumulator window)
    {
        var end = Time(window.End);
        if (end > context.Watermark)
        {
            context.SetEventTimeTimer(_firePrefix + Format(window.Start), end);
        }

        context.SetEventTimeTimer(_purgePrefix + Format(window.Start), end + context.AllowedLateness);
    }

    private void Emit(IRuleContext context, WindowAccumulator window)
    {
        var result = new WindowResult(Name, window, window.Emitted);
        window.Emitted = true;
        window.Changed = false;
        window.Replaced.Clear();
        _onResult(context, result);
    }

    private static bool IsExpired(IRuleContext context, long end) =>
        context.Watermark != DateTimeOffset.MinValue && Time(end) + context.AllowedLateness <= context.Watermark;

    private static DateTimeOffset Time(long unixMilliseconds) => DateTimeOffset.FromUnixTimeMilliseconds(unixMilliseconds);

    private static string Format(long start) => start.ToString(CultureInfo.InvariantCulture);

    private static bool TryParse(string name, string prefix, out long start)
    {
        start = 0;
        return name.StartsWith(prefix, StringComparison.Ordinal)
            && long.TryParse(name.AsSpan(prefix.Length), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out start);
    }
}
