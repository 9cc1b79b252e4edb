namespace Kommune.Rules.Api;

/// <summary>What a gap (a window that was missed, or had no data and so was never recorded) does to a run of windows.</summary>
public enum GapPolicy
{
    /// <summary>A gap ends the run: "3 congested minutes in a row" means 3 adjacent minutes.</summary>
    Reset,

    /// <summary>A gap is passed over: "3 loud windows in a row" counts the windows that had readings.</summary>
    Skip,
}

/// <summary>
/// A run of windows that matched a condition in a row ("N loud windows in a row"), as keyed state: serializable with
/// System.Text.Json, so it can be held in <see cref="IRuleContext.State{T}"/> or in a record of the rule's own.
/// </summary>
/// <param name="LastWindowStart">The start of the last window recorded.</param>
/// <param name="Count">How many windows in a row, up to and including that one, matched (0 when it did not).</param>
public sealed record WindowRun(DateTimeOffset LastWindowStart, int Count);

/// <summary>
/// Counts windows that match a condition in a row, windows being <see cref="WindowStep"/> apart, with gaps treated as
/// <see cref="Gaps"/> says. Keep it as a rule field: it holds no state; the run is a <see cref="WindowRun"/> in keyed
/// state.
/// </summary>
/// <example>
/// <code>
/// private readonly ConsecutiveWindows _loud = new(TimeSpan.FromMinutes(5), GapPolicy.Reset);
/// ...
/// // in the window's handler, once per closed window:
/// if (_loud.Record(context.State&lt;WindowRun&gt;("loud"), result.Start, result.Max &gt; 70) == 3)
///     context.RaiseAlert("loud", draft);
/// </code>
/// </example>
public sealed class ConsecutiveWindows
{
    /// <summary>A counter of windows <paramref name="windowStep"/> apart.</summary>
    /// <param name="windowStep">The time from one window's start to the next's: the window's size for tumbling windows.</param>
    /// <param name="gaps">Whether a missed window ends the run or is passed over.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="windowStep"/> is not positive.</exception>
    public ConsecutiveWindows(TimeSpan windowStep, GapPolicy gaps)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(windowStep, TimeSpan.Zero);
        if (!Enum.IsDefined(gaps))
        {
            throw new ArgumentOutOfRangeException(nameof(gaps), gaps, "Not a gap policy.");
        }

        WindowStep = windowStep;
        Gaps = gaps;
    }

    /// <summary>The time from one window's start to the next's.</summary>
    public TimeSpan WindowStep { get; }

    /// <summary>Whether a missed window ends the run or is passed over.</summary>
    public GapPolicy Gaps { get; }

    /// <summary>
    /// The run after the window that starts at <paramref name="windowStart"/>: one longer when it matched, 0 when it did
    /// not; a gap before it ends the run first when <see cref="Gaps"/> is <see cref="GapPolicy.Reset"/>. Record each
    /// window once, in order: a window that does not start after the last one recorded (an update of a window already
    /// recorded, say) leaves the run as it is. A window without data need not be recorded: it is a gap.
    /// </summary>
    /// <param name="run">The run so far, null before the first window.</param>
    /// <param name="windowStart">The window's start.</param>
    /// <param name="matches">Whether the window matched the condition.</param>
    public WindowRun Next(WindowRun? run, DateTimeOffset windowStart, bool matches)
    {
        if (run is null)
        {
            return new WindowRun(windowStart, matches ? 1 : 0);
        }

        if (windowStart <= run.LastWindowStart)
        {
            return run;
        }

        var adjacent = windowStart - run.LastWindowStart <= WindowStep;
        var before = adjacent || Gaps == GapPolicy.Skip ? run.Count : 0;
        return new WindowRun(windowStart, matches ? before + 1 : 0);
    }

    /// <summary>Records the window in <paramref name="state"/> (see <see cref="Next"/>) and returns how many windows in a row matched.</summary>
    public int Record(IValueState<WindowRun> state, DateTimeOffset windowStart, bool matches)
    {
        ArgumentNullException.ThrowIfNull(state);
        var run = Next(state.Value, windowStart, matches);
        state.Update(run);
        return run.Count;
    }
}
