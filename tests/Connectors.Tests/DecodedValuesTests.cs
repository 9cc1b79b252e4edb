using Kommune.Connectors.Codecs;
using Kommune.Rules.Model;

namespace Kommune.Connectors.Tests;

public sealed class DecodedValuesTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(DecodedValues.MaxInline)]
    [InlineData(DecodedValues.MaxInline + 1)]
    [InlineData(16)]
    public void Every_value_is_found_by_its_name_and_listed_in_the_records_order(int count)
    {
        var names = Enumerable.Range(0, count).Select(i => $"v{i}").ToArray();
        var given = Enumerable.Range(0, count)
            .Select(i => (i % 3) switch { 0 => SensorValue.FromNumber(i + 0.5), 1 => SensorValue.FromText($"t{i}"), _ => SensorValue.FromBoolean(i % 2 == 0) })
            .ToArray();

        var values = DecodedValues.Of(names, given);

        Assert.Equal(count, values.Count);
        for (var i = 0; i < count; i++)
        {
            Assert.True(values.TryGetValue($"v{i}", out var value)); // an equal name, not the same string
            Assert.Equal(given[i], value);
            Assert.Equal(given[i], values[names[i]]);
            Assert.True(values.ContainsKey(names[i]));
        }

        Assert.Equal(names, values.Keys);
        Assert.Equal(given, values.Values);
        Assert.Equal(names.Zip(given, KeyValuePair.Create), values.ToArray());
        Assert.False(values.TryGetValue("absent", out var none));
        Assert.Equal(default, none);
        Assert.False(values.ContainsKey("V0")); // names are compared exactly
        var missing = Assert.Throws<KeyNotFoundException>(() => values["absent"]);
        Assert.Contains("'absent'", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_values_are_copied_so_the_decoders_scratch_array_can_be_reused()
    {
        var scratch = new[] { SensorValue.FromNumber(1), SensorValue.FromNumber(2) };
        var values = DecodedValues.Of(["a", "b"], scratch);

        scratch[0] = SensorValue.FromNumber(99);

        Assert.Equal(1, values["a"].Number);
    }

    [Fact]
    public void Names_and_values_of_different_counts_or_none_are_refused()
    {
        Assert.Throws<ArgumentException>(() => DecodedValues.Of(["a", "b"], [SensorValue.FromNumber(1)]));
        Assert.Throws<ArgumentException>(() => DecodedValues.Of([], []));
    }
}
