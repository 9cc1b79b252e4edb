namespace Kommune.Rules.Windows;

/// <summary>
/// What one window has seen so far: its bounds, the statistics and whether it was emitted. Kept in keyed state
/// (a sorted dictionary by start per aggregation), so every member is a public property System.Text.Json can write.
/// </summary>
internal sealed class WindowAccumulator
{
    /// <summary>Inclusive start, Unix milliseconds.</summary>
    public long Start { get; set; }

    /// <summary>Exclusive end, Unix milliseconds.</summary>
    public long End { get; set; }

    /// <summary>How many values.</summary>
    public long Count { get; set; }

    /// <summary>Their sum, added in arrival order.</summary>
    public double Sum { get; set; }

    /// <summary>The smallest value.</summary>
    public double Min { get; set; }

    /// <summary>The largest value.</summary>
    public double Max { get; set; }

    /// <summary>The quantile sketch of the values.</summary>
    public QuantileSketch Sketch { get; set; } = new();

    /// <summary>Whether a result of this window was emitted.</summary>
    public bool Emitted { get; set; }

    /// <summary>Whether it changed since its last result (or never had one).</summary>
    public bool Changed { get; set; }

    /// <summary>Starts (Unix ms) of emitted sessions merged into this one since its last result.</summary>
    public List<long> Replaced { get; set; } = [];

    /// <summary>Adds one value.</summary>
    public void Add(double value)
    {
        Min = Count == 0 ? value : Math.Min(Min, value);
        Max = Count == 0 ? value : Math.Max(Max, value);
        Count++;
        Sum += value;
        Sketch.Add(value);
        Changed = true;
    }

    /// <summary>Merges another window (a session) into this one: bounds, statistics and flags.</summary>
    public void Merge(WindowAccumulator other)
    {
        Start = Math.Min(Start, other.Start);
        End = Math.Max(End, other.End);
        Min = Count == 0 ? other.Min : other.Count == 0 ? Min : Math.Min(Min, other.Min);
        Max = Count == 0 ? other.Max : other.Count == 0 ? Max : Math.Max(Max, other.Max);
        Count += other.Count;
        Sum += other.Sum;
        Sketch.Merge(other.Sketch);
        Emitted |= other.Emitted;
        Changed = true;
        Replaced.AddRange(other.Replaced);
    }
}
