namespace Kommune.Rules.Api;

/// <summary>What one reading did to a <see cref="Hysteresis"/>.</summary>
public enum HysteresisChange
{
    /// <summary>Nothing changed.</summary>
    None,

    /// <summary>The condition is now raised: raise the alert.</summary>
    Raised,

    /// <summary>The condition is now clear: resolve the alert.</summary>
    Cleared,
}

/// <summary>
/// Where a <see cref="Hysteresis"/> stands, as keyed state: serializable with System.Text.Json, so it can be held in
/// <see cref="IRuleContext.State{T}"/> or in a record of the rule's own.
/// </summary>
/// <param name="IsRaised">Whether the condition is raised.</param>
/// <param name="Count">How many readings in a row were on the side that would change it (beyond the raise threshold while clear, beyond the clear threshold while raised).</param>
/// <param name="Since">The time of the first of them, or null when there are none.</param>
public sealed record HysteresisState(bool IsRaised, int Count, DateTimeOffset? Since)
{
    /// <summary>Clear, with no readings counted.</summary>
    public static HysteresisState Clear { get; } = new(false, 0, null);
}

/// <summary>
/// Raise and clear with hysteresis: raised after <see cref="RaiseAfter"/> readings in a row (and <see cref="RaiseFor"/>)
/// beyond the raise threshold, cleared after <see cref="ClearAfter"/> readings in a row (and <see cref="ClearFor"/>)
/// beyond a clear threshold on the near side of it, so a reading that wavers around one threshold does not make an
/// alert flap. A reading between the two thresholds counts for neither, and ends the run toward a change. Keep it as a
/// rule field: it holds no state; where it stands is a <see cref="HysteresisState"/> in keyed state.
/// </summary>
/// <example>
/// <code>
/// private readonly Hysteresis _loud = Hysteresis.Above(raiseAt: 70, clearBelow: 65) with { RaiseAfter = 3, ClearFor = TimeSpan.FromMinutes(10) };
/// ...
/// switch (_loud.Observe(context.State&lt;HysteresisState&gt;("loud"), e.Timestamp, db))
/// {
///     case HysteresisChange.Raised: context.RaiseAlert("loud", draft); break;
///     case HysteresisChange.Cleared: context.ResolveAlert("loud", "quiet again"); break;
/// }
/// </code>
/// </example>
/// <remarks>
/// Conditions are checked at each reading: one that lasts <see cref="RaiseFor"/> is raised at the first reading after
/// that long. Readings are taken in the order given; a sensor that falls silent changes nothing (set a timer for that).
/// </remarks>
public sealed record Hysteresis
{
    private readonly int _raiseAfter = 1;
    private readonly int _clearAfter = 1;
    private readonly TimeSpan _raiseFor;
    private readonly TimeSpan _clearFor;

    private Hysteresis(bool raisesAbove, double raiseAt, double clearAt)
    {
        if (!double.IsFinite(raiseAt) || !double.IsFinite(clearAt))
        {
            throw new ArgumentOutOfRangeException(nameof(raiseAt), "The thresholds must be finite numbers.");
        }

        if (raisesAbove ? clearAt > raiseAt : clearAt < raiseAt)
        {
            throw new ArgumentException(
                $"The clear threshold ({clearAt}) must be on the near side of the raise threshold ({raiseAt}): {(raisesAbove ? "at or below" : "at or above")} it.",
                nameof(clearAt));
        }

        RaisesAbove = raisesAbove;
        RaiseAt = raiseAt;
        ClearAt = clearAt;
    }

    private Hysteresis()
    {
        RaisesAbove = true;
        RaiseAt = double.NaN;
        ClearAt = double.NaN;
    }

    /// <summary>
    /// Raised and cleared by conditions the rule judges itself, not by one reading against two thresholds: "slow or
    /// full" toward raising, "fast and not full" toward clearing. Take readings with the
    /// <see cref="Next(HysteresisState?, DateTimeOffset, bool, bool, out HysteresisChange)"/> and
    /// <see cref="Observe(IValueState{HysteresisState}, DateTimeOffset, bool, bool)"/> that take two conditions; its
    /// thresholds are <see cref="double.NaN"/>, and a number given to it is refused.
    /// </summary>
    public static Hysteresis OnConditions() => new();

    /// <summary>Raised by readings at or above <paramref name="raiseAt"/>, cleared by readings below <paramref name="clearBelow"/> (at most <paramref name="raiseAt"/>).</summary>
    /// <exception cref="ArgumentException"><paramref name="clearBelow"/> is above <paramref name="raiseAt"/>, or either is not finite.</exception>
    public static Hysteresis Above(double raiseAt, double clearBelow) => new(true, raiseAt, clearBelow);

    /// <summary>Raised by readings at or below <paramref name="raiseAt"/>, cleared by readings above <paramref name="clearAbove"/> (at least <paramref name="raiseAt"/>).</summary>
    /// <exception cref="ArgumentException"><paramref name="clearAbove"/> is below <paramref name="raiseAt"/>, or either is not finite.</exception>
    public static Hysteresis Below(double raiseAt, double clearAbove) => new(false, raiseAt, clearAbove);

    /// <summary>Whether high readings raise it (<see cref="Above"/>) or low ones (<see cref="Below"/>).</summary>
    public bool RaisesAbove { get; }

    /// <summary>The raise threshold (a reading at it counts toward raising); <see cref="double.NaN"/> for <see cref="OnConditions"/>.</summary>
    public double RaiseAt { get; }

    /// <summary>The clear threshold (a reading at it does not count toward clearing); <see cref="double.NaN"/> for <see cref="OnConditions"/>.</summary>
    public double ClearAt { get; }

    /// <summary>How many readings in a row beyond the raise threshold raise it; 1 unless set.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Set below 1.</exception>
    public int RaiseAfter
    {
        get => _raiseAfter;
        init => _raiseAfter = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(RaiseAfter), value, "At least one reading.");
    }

    /// <summary>How long those readings must span (from the first to the one that raises it); none unless set.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Set below zero.</exception>
    public TimeSpan RaiseFor
    {
        get => _raiseFor;
        init => _raiseFor = value >= TimeSpan.Zero ? value : throw new ArgumentOutOfRangeException(nameof(RaiseFor), value, "Not a negative time.");
    }

    /// <summary>How many readings in a row beyond the clear threshold clear it; 1 unless set.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Set below 1.</exception>
    public int ClearAfter
    {
        get => _clearAfter;
        init => _clearAfter = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(ClearAfter), value, "At least one reading.");
    }

    /// <summary>How long those readings must span; none unless set.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Set below zero.</exception>
    public TimeSpan ClearFor
    {
        get => _clearFor;
        init => _clearFor = value >= TimeSpan.Zero ? value : throw new ArgumentOutOfRangeException(nameof(ClearFor), value, "Not a negative time.");
    }

    /// <summary>Where it stands after a reading of <paramref name="value"/> at <paramref name="time"/>, and what that changed.</summary>
    /// <param name="state">Where it stood; null (or <see cref="HysteresisState.Clear"/>) before the first reading.</param>
    /// <param name="time">The reading's time.</param>
    /// <param name="value">The reading.</param>
    /// <param name="change">Whether the reading raised or cleared it.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="value"/> is not finite.</exception>
    /// <exception cref="InvalidOperationException">It was made by <see cref="OnConditions"/>, and has no thresholds.</exception>
    public HysteresisState Next(HysteresisState? state, DateTimeOffset time, double value, out HysteresisChange change)
    {
        if (!double.IsFinite(value))
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, "A reading must be a finite number.");
        }

        if (double.IsNaN(RaiseAt))
        {
            throw new InvalidOperationException("This hysteresis has no thresholds (it was made by OnConditions): give it the two conditions instead of a number.");
        }

        return Next(
            state,
            time,
            raising: RaisesAbove ? value >= RaiseAt : value <= RaiseAt,
            clearing: RaisesAbove ? value < ClearAt : value > ClearAt,
            out change);
    }

    /// <summary>
    /// Where it stands after a reading the rule judged itself, and what that changed: while clear, a reading counts
    /// toward raising when <paramref name="raising"/>; while raised, toward clearing when <paramref name="clearing"/>;
    /// any other reading counts for neither and ends the run toward a change. The thresholds are not used, so this
    /// works on any hysteresis (usually one made by <see cref="OnConditions"/>).
    /// </summary>
    /// <param name="state">Where it stood; null (or <see cref="HysteresisState.Clear"/>) before the first reading.</param>
    /// <param name="time">The reading's time.</param>
    /// <param name="raising">Whether the reading is on the raise side (it would count toward raising).</param>
    /// <param name="clearing">Whether the reading is on the clear side (it would count toward clearing).</param>
    /// <param name="change">Whether the reading raised or cleared it.</param>
    /// <remarks>
    /// To start a run over (a gap in the windows, an alert an operator resolved), give it
    /// <c>state with { Count = 0, Since = null }</c> or <see cref="HysteresisState.Clear"/>.
    /// </remarks>
    public HysteresisState Next(HysteresisState? state, DateTimeOffset time, bool raising, bool clearing, out HysteresisChange change)
    {
        state ??= HysteresisState.Clear;
        change = HysteresisChange.None;
        var towardChange = state.IsRaised ? clearing : raising;
        if (!towardChange)
        {
            return state.Count == 0 ? state : state with { Count = 0, Since = null };
        }

        var since = state.Since ?? time;
        var count = state.Count + 1;
        var (after, span) = state.IsRaised ? (ClearAfter, ClearFor) : (RaiseAfter, RaiseFor);
        if (count >= after && time - since >= span)
        {
            change = state.IsRaised ? HysteresisChange.Cleared : HysteresisChange.Raised;
            return new HysteresisState(!state.IsRaised, 0, null);
        }

        return new HysteresisState(state.IsRaised, count, since);
    }

    /// <summary>Takes a reading into <paramref name="state"/> (see <see cref="Next(HysteresisState?, DateTimeOffset, double, out HysteresisChange)"/>) and returns what it changed.</summary>
    public HysteresisChange Observe(IValueState<HysteresisState> state, DateTimeOffset time, double value)
    {
        ArgumentNullException.ThrowIfNull(state);
        var next = Next(state.Value, time, value, out var change);
        state.Update(next);
        return change;
    }

    /// <summary>Takes a reading the rule judged itself into <paramref name="state"/> (see <see cref="Next(HysteresisState?, DateTimeOffset, bool, bool, out HysteresisChange)"/>) and returns what it changed.</summary>
    public HysteresisChange Observe(IValueState<HysteresisState> state, DateTimeOffset time, bool raising, bool clearing)
    {
        ArgumentNullException.ThrowIfNull(state);
        var next = Next(state.Value, time, raising, clearing, out var change);
        state.Update(next);
        return change;
    }
}
