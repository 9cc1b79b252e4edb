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
    }
}
