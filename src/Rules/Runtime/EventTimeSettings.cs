namespace Kommune.Rules.Runtime;

/// <summary>How the engine reasons about event time.</summary>
public sealed record EventTimeSettings
{
    /// <summary>How far out of order events may arrive: a partition's watermark is its newest event time minus this.</summary>
    public TimeSpan OutOfOrderness { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How far behind the watermark an event may still be used; older events go to the late output.</summary>
    public TimeSpan AllowedLateness { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>A partition with no event for this long (wall clock) stops holding the watermark back.</summary>
    public TimeSpan IdlePartitionTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Most event-time timers one key may hold (over all its rules). A watermark held back far behind a key's events
    /// lets windows pile up (each with its timers and state); beyond this many, the earliest timers fire ahead of the
    /// watermark (their windows close early), reported as the rule problem <c>timer-limit</c>.
    /// </summary>
    public int MaxEventTimeTimersPerKey { get; init; } = 10_000;

    /// <summary>Checks the settings and names a wrong one.</summary>
    /// <exception cref="ArgumentException">A setting is negative or zero where it must be positive.</exception>
    public void Validate()
    {
        if (OutOfOrderness < TimeSpan.Zero)
        {
            throw new ArgumentException($"OutOfOrderness must not be negative, not {OutOfOrderness}");
        }

        if (AllowedLateness < TimeSpan.Zero)
        {
            throw new ArgumentException($"AllowedLateness must not be negative, not {AllowedLateness}");
        }

        if (IdlePartitionTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException($"IdlePartitionTimeout must be positive, not {IdlePartitionTimeout}");
        }

        if (MaxEventTimeTimersPerKey < 1)
        {
            throw new ArgumentException($"MaxEventTimeTimersPerKey must be at least 1, not {MaxEventTimeTimersPerKey}");
        }
    }
}
