using System.Text.Json;
using Kommune.Rules.BuiltIn;
using Kommune.Rules.Runtime;

namespace Kommune.Rules.Tests.BuiltIn;

/// <summary>
/// The free-flow histogram as two sorted arrays: it must decide, and write, exactly what its earlier form (a sorted
/// dictionary of bins) did, so that road sensors' states written before restore unchanged.
/// </summary>
public sealed class FreeFlowHistogramTests
{
    private static JsonSerializerOptions Options => KeyedStateSnapshot.JsonOptions;

    [Fact]
    public void It_decides_and_writes_what_the_sorted_dictionary_it_replaced_did_through_a_long_noisy_history()
    {
        var random = new Random(20261206);
        var histogram = new FreeFlowHistogram();
        var reference = new SortedDictionaryHistogram();
        for (var window = 0; window < 5_000; window++)
        {
            // Mostly free flow around a limit that changes twice, some jams, some absurd readings.
            var limit = window < 2_000 ? 60 : window < 3_500 ? 40 : 80;
            var speed = random.Next(10) switch
            {
                0 => random.NextDouble() * 15,
                1 => random.NextDouble() * 400 - 50,
                2 when window % 500 == 0 => double.NaN,
                _ => limit + ((random.NextDouble() - 0.5) * 20),
            };
            var decay = window % 3 == 0 ? 0.999 : 0.95;
            histogram.Add(speed, decay);
            reference.Add(speed, decay);

            if (window % 97 == 0)
            {
                foreach (var q in new[] { 0.0, 0.5, 0.85, 0.99, 1.0 })
                {
                    Assert.Equal(reference.Quantile(q), histogram.Quantile(q));
                }

                Assert.Equal(JsonSerializer.Serialize(reference, Options), JsonSerializer.Serialize(histogram, Options));
            }
        }

        Assert.Equal(reference.Bins.Count, histogram.Count);
    }

    [Fact]
    public void A_histogram_written_by_the_sorted_dictionary_reads_back_and_is_written_again_byte_for_byte()
    {
        var reference = new SortedDictionaryHistogram();
        foreach (var speed in new[] { 52.5, 61.0, 58.2, 61.9, 250.0, 0.4, 75.5 })
        {
            reference.Add(speed, 0.97);
        }

        var written = JsonSerializer.Serialize(reference, Options);
        var read = JsonSerializer.Deserialize<FreeFlowHistogram>(written, Options)!;

        Assert.Equal(written, JsonSerializer.Serialize(read, Options));
        Assert.Equal(reference.Quantile(0.85), read.Quantile(0.85));
        Assert.Equal(7, read.Samples);
        Assert.StartsWith("""{"bins":{"0":""", written, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"bins":{"251":1},"samples":1}""", "not '251'")]
    [InlineData("""{"bins":{"-1":1},"samples":1}""", "not '-1'")]
    [InlineData("""{"bins":{"fast":1},"samples":1}""", "not 'fast'")]
    [InlineData("""{"bins":{"40":1,"40":2},"samples":2}""", "Bin 40 is given twice")]
    [InlineData("""{"bins":[40],"samples":1}""", "bins are a JSON object")]
    public void Bins_that_no_histogram_writes_are_refused_with_what_is_wrong(string json, string expected)
    {
        var error = Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<FreeFlowHistogram>(json, Options));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bins_read_out_of_order_are_kept_in_order()
    {
        var read = JsonSerializer.Deserialize<FreeFlowHistogram>("""{"Bins":{"70":1,"30":2,"50":0.5},"Samples":3}""", Options)!;

        Assert.Equal([(30, 2.0), (50, 0.5), (70, 1.0)], read.Bins);
        Assert.Equal("""{"bins":{"30":2,"50":0.5,"70":1},"samples":3}""", JsonSerializer.Serialize(read, Options));
    }

    /// <summary>The histogram as it was before (commit 66035d5), word for word: the reference for what it decides and writes.</summary>
    private sealed class SortedDictionaryHistogram
    {
        public SortedDictionary<int, double> Bins { get; set; } = [];

        public long Samples { get; set; }

        public void Add(double speed, double decay)
        {
            if (!double.IsFinite(speed))
            {
                return;
            }

            foreach (var bin in Bins.Keys.ToList())
            {
                var weight = Bins[bin] * decay;
                if (weight < FreeFlowHistogram.PruneWeight)
                {
                    Bins.Remove(bin);
                }
                else
                {
                    Bins[bin] = weight;
                }
            }

            var index = (int)Math.Clamp(Math.Floor(speed), 0, FreeFlowHistogram.MaxSpeed);
            Bins.TryGetValue(index, out var known);
            Bins[index] = known + 1;
            Samples++;
        }

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
    }
}
