namespace Kommune.Rules.Windows;

/// <summary>What kind of window a <see cref="WindowSpec"/> describes.</summary>
public enum WindowKind
{
    /// <summary>Fixed-size windows that do not overlap: each event belongs to exactly one.</summary>
    Tumbling,

    /// <summary>Fixed-size windows that start every step: each event belongs to size / step of them.</summary>
    Hopping,

    /// <summary>Windows of activity: an event opens <c>[time, time + gap)</c>, and overlapping sessions merge.</summary>
    Session,
}

/// <summary>
/// How events are grouped into event-time windows. Every window is <c>[start, end)</c> in whole Unix
/// milliseconds; tumbling and hopping windows are aligned to the Unix epoch (a 5-minute window starts at :00, :05,
/// ...). Event times are truncated to the millisecond before they are assigned. Make one with
/// <see cref="Tumbling"/>, <see cref="Hopping"/> or <see cref="Session"/>.
/// </summary>
public sealed record WindowSpec
{
    private WindowSpec(WindowKind kind, TimeSpan size, TimeSpan step)
    {
        Kind = kind;
        Size = size;
        Step = step;
    }

    /// <summary>The kind of window.</summary>
    public WindowKind Kind { get; }

    /// <summary>The window length (tumbling, hopping), or the session gap.</summary>
    public TimeSpan Size { get; }

    /// <summary>How far apart window starts are: the size for tumbling windows, the step for hopping windows, the gap for sessions.</summary>
    public TimeSpan Step { get; }

    /// <summary>Windows of <paramref name="size"/> back to back: <c>[k * size, (k + 1) * size)</c>.</summary>
    /// <param name="size">The window length, a positive whole number of milliseconds.</param>
    /// <exception cref="ArgumentOutOfRangeException">The size is not positive or not whole milliseconds.</exception>
    public static WindowSpec Tumbling(TimeSpan size)
    {
        CheckMilliseconds(size, nameof(size));
        return new WindowSpec(WindowKind.Tumbling, size, size);
    }

    /// <summary>
    /// Windows of <paramref name="size"/> starting every <paramref name="step"/>: <c>[k * step, k * step + size)</c>,
    /// so each event belongs to <c>size / step</c> windows.
    /// </summary>
    /// <param name="size">The window length, a positive whole number of milliseconds and a multiple of the step.</param>
    /// <param name="step">How far apart window starts are, a positive whole number of milliseconds.</param>
    /// <exception cref="ArgumentOutOfRangeException">A duration is not positive or not whole milliseconds, or the size is not a multiple of the step.</exception>
    public static WindowSpec Hopping(TimeSpan size, TimeSpan step)
    {
        CheckMilliseconds(size, nameof(size));
        CheckMilliseconds(step, nameof(step));
        if (size.Ticks % step.Ticks != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, $"The size of a hopping window must be a multiple of its step ({step}).");
        }

        return new WindowSpec(WindowKind.Hopping, size, step);
    }

    /// <summary>
    /// Session windows: an event at <c>t</c> opens <c>[t, t + gap)</c>, and sessions that overlap merge into one
    /// (so events less than <paramref name="gap"/> apart share a session, events exactly a gap apart do not).
    /// </summary>
    /// <param name="gap">The inactivity gap, a positive whole number of milliseconds.</param>
    /// <exception cref="ArgumentOutOfRangeException">The gap is not positive or not whole milliseconds.</exception>
    public static WindowSpec Session(TimeSpan gap)
    {
        CheckMilliseconds(gap, nameof(gap));
        return new WindowSpec(WindowKind.Session, gap, gap);
    }

    /// <summary>The starts (Unix ms) of the tumbling or hopping windows that contain <paramref name="time"/> (Unix ms), earliest first.</summary>
    internal IEnumerable<long> StartsOf(long time)
    {
        var step = (long)Step.TotalMilliseconds;
        var size = (long)Size.TotalMilliseconds;
        var last = FloorDiv(time, step) * step;
        for (var start = last - size + step; start <= last; start += step)
        {
            yield return start;
        }
    }

    private static long FloorDiv(long value, long divisor)
    {
        var quotient = Math.DivRem(value, divisor, out var remainder);
        return remainder < 0 ? quotient - 1 : quotient;
    }

    private static void CheckMilliseconds(TimeSpan duration, string name)
    {
        if (duration <= TimeSpan.Zero || duration.Ticks % TimeSpan.TicksPerMillisecond != 0)
        {
            throw new ArgumentOutOfRangeException(name, duration, "A window duration must be a positive whole number of milliseconds.");
        }
    }
}
