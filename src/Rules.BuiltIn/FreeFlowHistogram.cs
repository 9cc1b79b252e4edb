using System.Globalization;

namespace Kommune.Rules.BuiltIn;

/// <summary>
/// A bounded, exponentially decayed histogram of per-window mean speeds (1 km/h bins from 0 to
/// <see cref="MaxSpeed"/>), from which the free-flow speed is read as a high percentile. Old windows fade with a
/// half-life, so the estimate follows road works or a new speed limit. At most <see cref="MaxSpeed"/> + 1 bins are
/// kept, and bins whose weight decayed below <see cref="PruneWeight"/> are dropped. Public properties only, so
/// System.Text.Json snapshots it as keyed state.
/// </summary>
internal sealed class FreeFlowHistogram
{
    /// <summary>The highest bin (km/h); faster means are counted in it.</summary>
    public const int MaxSpeed = 250;

    /// <summary>Bins lighter than this are dropped.</summary>
    public const double PruneWeight = 1e-3;

    /// <summary>Decayed weight per bin (bin i holds means in [i, i + 1) km/h).</summary>
    public SortedDictionary<int, double> Bins { get; set; } = [];

    /// <summary>How many windows were added in all (not decayed): the estimate is trusted from a minimum on.</summary>
    public long Samples { get; set; }

    /// <summary>Decays every bin by <paramref name="decay"/> (0..1], then counts <paramref name="speed"/> with weight 1.</summary>
    /// <param name="speed">A window's mean speed, km/h.</param>
    /// <param name="decay">The factor old weights are multiplied by.</param>
    public void Add(double speed, double decay)
    {
        if (!double.IsFinite(speed))
        {
            return;
        }

        foreach (var bin in Bins.Keys.ToList())
        {
            var weight = Bins[bin] * decay;
            if (weight < PruneWeight)
            {
                Bins.Remove(bin);
            }
            else
            {
                Bins[bin] = weight;
            }
        }

        var index = (int)Math.Clamp(Math.Floor(speed), 0, MaxSpeed);
        Bins.TryGetValue(index, out var known);
        Bins[index] = known + 1;
        Samples++;
    }

    /// <summary>
    /// The weighted <paramref name="q"/> quantile, interpolated linearly inside its bin; NaN when empty.
    /// </summary>
    /// <param name="q">0..1, for example 0.85.</param>
    public double Quantile(double q)
    {
        var total = Bins.Values.Sum();
        if (total <= 0)
        {
            return double.NaN;
        }

        var target = Math.Clamp(q, 0, 1) * total;
        var seen = 0.0;
        foreach (var (bin, weight) in Bins)
        {
            if (seen + weight >= target)
            {
                return bin + ((target - seen) / weight);
            }

            seen += weight;
        }

        return Bins.Keys.Last() + 1;
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Samples} windows, p85 {Quantile(0.85):F1} km/h");
}
