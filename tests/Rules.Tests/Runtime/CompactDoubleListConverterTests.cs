using System.Text.Json;
using Kommune.Rules.Runtime;

namespace Kommune.Rules.Tests.Runtime;

public sealed class CompactDoubleListConverterTests
{
    private static readonly JsonSerializerOptions Options = KeyedStateSnapshot.JsonOptions;

    [Fact]
    public void Long_lists_are_written_as_base64_and_read_back_bit_for_bit()
    {
        List<double> values = [0.1, -2.5e-300, double.NaN, double.PositiveInfinity, double.NegativeInfinity, 1e308, -0.0, 42];

        var json = JsonSerializer.Serialize(values, Options);
        var back = JsonSerializer.Deserialize<List<double>>(json, Options)!;

        Assert.StartsWith("\"", json, StringComparison.Ordinal);
        Assert.Equal(values.Select(BitConverter.DoubleToInt64Bits), back.Select(BitConverter.DoubleToInt64Bits));
    }

    [Fact]
    public void Short_lists_stay_readable_arrays()
    {
        Assert.Equal("[1.5,\"NaN\",3]", JsonSerializer.Serialize(new List<double> { 1.5, double.NaN, 3 }, Options));
        Assert.Equal("[]", JsonSerializer.Serialize(Array.Empty<double>(), Options));
    }

    [Fact]
    public void Interfaces_arrays_and_nested_lists_round_trip()
    {
        var holder = new Holder
        {
            Reservoir = [.. Enumerable.Range(0, 50).Select(i => i * 0.37)],
            Buckets = [[1, 2, 3, 4, 5], [], [7]],
            Pair = [1, 2, 3, 4, 5, 6],
        };

        var back = JsonSerializer.Deserialize<Holder>(JsonSerializer.Serialize(holder, Options), Options)!;

        Assert.Equal(holder.Reservoir, back.Reservoir);
        Assert.Equal(holder.Buckets.Select(b => b.ToArray()), back.Buckets.Select(b => b.ToArray()));
        Assert.Equal(holder.Pair, back.Pair);
    }

    [Fact]
    public void State_written_before_as_number_arrays_is_still_read()
    {
        var back = JsonSerializer.Deserialize<List<double>>("[1,2.5,\"Infinity\",\"-Infinity\",\"NaN\",6,7,8]", Options)!;

        Assert.Equal(8, back.Count);
        Assert.Equal(double.PositiveInfinity, back[2]);
        Assert.True(double.IsNaN(back[4]));
    }

    [Theory]
    [InlineData("\"AAEC\"", "not a multiple of 8")]
    [InlineData("{}", "must be an array or a base64 string")]
    [InlineData("[true]", "holds True")]
    public void Malformed_lists_are_refused_with_a_reason(string json, string reason)
    {
        var error = Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<List<double>>(json, Options));
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
    }

    private sealed class Holder
    {
        public IList<double> Reservoir { get; set; } = [];

        public IList<List<double>> Buckets { get; set; } = [];

        public double[] Pair { get; set; } = [];
    }
}
