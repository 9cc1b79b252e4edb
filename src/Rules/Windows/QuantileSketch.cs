namespace Kommune.Rules.Windows;

/// <summary>
/// A DDSketch-style approximate quantile sketch: values are counted in logarithmic buckets, so each quantile is
/// returned within 1 % of the true value at that rank. A value's bucket depends only on the value, so the sketch
/// (and every quantile) is the same whatever order the values arrive in, and two sketches merge by adding counts.
/// The bucket counts live in sorted dictionaries with public properties so System.Text.Json can snapshot them.
/// </summary>
internal sealed class QuantileSketch
{
    /// <summary>The relative accuracy of every quantile.</summary>
    public const double RelativeAccuracy = 0.01;

    private static readonly double Gamma = (1 + RelativeAccuracy) / (1 - RelativeAccuracy);
    private static readonly double LogGamma = Math.Log(Gamma);
    private static readonly double LogMidpoint = Math.Log(2 / (Gamma + 1));

    /// <summary>Counts of positive values per bucket index; bucket i holds values in (gamma^(i-1), gamma^i].</summary>
    public SortedDictionary<int, long> Positive { get; set; } = [];

    /// <summary>Counts of negative values per bucket index of their magnitude.</summary>
    public SortedDictionary<int, long> Negative { get; set; } = [];

    /// <summary>How many values were exactly zero.</summary>
    public long Zero { get; set; }

    /// <summary>Counts one value.</summary>
    public void Add(double value)
    {
        if (value > 0)
        {
            Increment(Positive, Index(value), 1);
        }
        else if (value < 0)
        {
            Increment(Negative, Index(-value), 1);
        }
        else
        {
            Zero++;
        }
    }

    /// <summary>Adds the counts of <paramref name="other"/> to this sketch.</summary>
    public void Merge(QuantileSketch other)
    {
        foreach (var (index, count) in other.Positive)
        {
            Increment(Positive, index, count);
        }

        foreach (var (index, count) in other.Negative)
        {
            Increment(Negative, index, count);
        }

        Zero += other.Zero;
    }

    /// <summary>A deep copy.</summary>
    public QuantileSketch Clone() => new()
    {
        Positive = new SortedDictionary<int, long>(Positive),
        Negative = new SortedDictionary<int, long>(Negative),
        Zero = Zero,
    };

    /// <summary>
    /// The estimate of the value at rank <c>floor(q * (n - 1))</c> (0-based) of the <paramref name="count"/> values
    /// counted; NaN when there are none.
    /// </summary>
    public double Quantile(double q, long count)
    {
        if (count <= 0)
        {
            return double.NaN;
        }

        var rank = (long)Math.Floor(q * (count - 1));
        long seen = 0;
        foreach (var (index, bucket) in Negative.Reverse())
        {
            seen += bucket;
            if (seen > rank)
            {
                return -Value(index);
            }
        }

        seen += Zero;
        if (seen > rank)
        {
            return 0;
        }

        var last = 0.0;
        foreach (var (index, bucket) in Positive)
        {
            seen += bucket;
            last = Value(index);
            if (seen > rank)
            {
                return last;
            }
        }

        return last;
    }

    private static int Index(double magnitude) => (int)Math.Ceiling(Math.Log(magnitude) / LogGamma);

    // gamma^index itself may overflow where the estimate does not.
    private static double Value(int index) => Math.Exp((index * LogGamma) + LogMidpoint);

    private static void Increment(SortedDictionary<int, long> buckets, int index, long count)
    {
        buckets.TryGetValue(index, out var known);
        buckets[index] = known + count;
    }
}
