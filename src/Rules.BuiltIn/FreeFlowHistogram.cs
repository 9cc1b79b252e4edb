using System.Globalization;
using System.Text.Json.Serialization;

namespace Kommune.Rules.BuiltIn;

/// <summary>
/// A bounded, exponentially decayed histogram of per-window mean speeds (1 km/h bins from 0 to
/// <see cref="MaxSpeed"/>), from which the free-flow speed is read as a high percentile. Old windows fade with a
/// half-life, so the estimate follows road works or a new speed limit. At most <see cref="MaxSpeed"/> + 1 bins are
/// kept, and bins whose weight decayed below <see cref="PruneWeight"/> are dropped. Kept as two sorted arrays (a bin's
/// number and its weight): a road sensor holds one for as long as it lives, and a sorted dictionary of its 40-odd bins
/// cost 56 bytes a bin. Written to JSON as <c>{"bins": {"42": 0.93, …}, "samples": 12}</c> (<see cref="FreeFlowHistogramJsonConverter"/>).
/// </summary>
[JsonConverter(typeof(FreeFlowHistogramJsonConverter))]
internal sealed class FreeFlowHistogram
{
    /// <summary>The highest bin (km/h); faster means are counted in it.</summary>
    public const int MaxSpeed = 250;

    /// <summary>Bins lighter than this are dropped.</summary>
    public const double PruneWeight = 1e-3;

    private byte[] _bins = []; // bin i holds means in [i, i + 1) km/h; ascending, the first Count used
    private double[] _weights = []; // decayed weight of _bins[i]

    /// <summary>How many windows were added in all (not decayed): the estimate is trusted from a minimum on.</summary>
    public long Samples { get; set; }

    /// <summary>How many bins hold weight.</summary>
    public int Count { get; private set; }

    /// <summary>The bins that hold weight, in ascending order: each bin's lowest speed (km/h) and its decayed weight.</summary>
    public IEnumerable<(int Bin, double Weight)> Bins
    {
        get
        {
            for (var i = 0; i < Count; i++)
            {
                yield return (_bins[i], _weights[i]);
            }
        }
    }

    /// <summary>Decays every bin by <paramref name="decay"/> (0..1], then counts <paramref name="speed"/> with weight 1.</summary>
    /// <param name="speed">A window's mean speed, km/h.</param>
    /// <param name="decay">The factor old weights are multiplied by.</param>
    public void Add(double speed, double decay)
    {
        if (!double.IsFinite(speed))
        {
            return;
        }

        var kept = 0;
        for (var i = 0; i < Count; i++)
        {
            var weight = _weights[i] * decay;
            if (weight >= PruneWeight)
            {
                _bins[kept] = _bins[i];
                _weights[kept] = weight;
                kept++;
            }
        }

        Count = kept;
        var bin = (byte)Math.Clamp(Math.Floor(speed), 0, MaxSpeed);
        var at = Array.BinarySearch(_bins, 0, Count, bin);
        if (at >= 0)
        {
            _weights[at] += 1;
        }
        else
        {
            Insert(~at, bin, 1);
        }

        Samples++;
    }

    /// <summary>
    /// The weighted <paramref name="q"/> quantile, interpolated linearly inside its bin; NaN when empty.
    /// </summary>
    /// <param name="q">0..1, for example 0.85.</param>
    public double Quantile(double q)
    {
        var total = 0.0;
        for (var i = 0; i < Count; i++)
        {
            total += _weights[i];
        }

        if (total <= 0)
        {
            return double.NaN;
        }

        var target = Math.Clamp(q, 0, 1) * total;
        var seen = 0.0;
        for (var i = 0; i < Count; i++)
        {
            var weight = _weights[i];
            if (seen + weight >= target)
            {
                return _bins[i] + ((target - seen) / weight);
            }

            seen += weight;
        }

        return _bins[Count - 1] + 1;
    }

    /// <summary>Sets a bin's weight, as read back from a snapshot.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The bin is not 0..<see cref="MaxSpeed"/>.</exception>
    /// <exception cref="ArgumentException">The bin is set already.</exception>
    internal void Set(int bin, double weight)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bin);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bin, MaxSpeed);
        var at = Array.BinarySearch(_bins, 0, Count, (byte)bin);
        if (at >= 0)
        {
            throw new ArgumentException($"Bin {bin} is given twice.", nameof(bin));
        }

        Insert(~at, (byte)bin, weight);
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Samples} windows, p85 {Quantile(0.85):F1} km/h");

    private void Insert(int at, byte bin, double weight)
    {
        if (Count == _bins.Length)
        {
            // Grows by a few bins at a time: a road's histogram settles at a few dozen and rarely gains one.
            var capacity = Math.Min(MaxSpeed + 1, Math.Max(8, Count + (Count / 4)));
            Array.Resize(ref _bins, capacity);
            Array.Resize(ref _weights, capacity);
        }

        Array.Copy(_bins, at, _bins, at + 1, Count - at);
        Array.Copy(_weights, at, _weights, at + 1, Count - at);
        _bins[at] = bin;
        _weights[at] = weight;
        Count++;
    }
}
