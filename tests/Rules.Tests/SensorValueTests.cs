using Kommune.Rules.Model;

namespace Kommune.Rules.Tests;

public sealed class SensorValueTests
{
    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity)]
    public void FromNumber_rejects_NaN_and_infinities(double number)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => SensorValue.FromNumber(number));

        Assert.Equal("number", error.ParamName);
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity)]
    public void Implicit_conversion_from_a_non_finite_number_is_rejected(double number)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() =>
        {
            SensorValue value = number;
            return value;
        });
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-273.15)]
    [InlineData(double.MaxValue)]
    [InlineData(double.MinValue)]
    [InlineData(double.Epsilon)]
    public void FromNumber_accepts_finite_numbers(double number)
    {
        var value = SensorValue.FromNumber(number);

        Assert.Equal(SensorValueKind.Number, value.Kind);
        Assert.Equal(number, value.Number);
        Assert.Null(value.Text);
        Assert.False(value.Boolean);
    }

    [Fact]
    public void Implicit_conversion_from_double_sets_Kind_Number()
    {
        SensorValue value = 42.5;

        Assert.Equal(SensorValueKind.Number, value.Kind);
        Assert.Equal(42.5, value.Number);
        Assert.Null(value.Text);
        Assert.False(value.Boolean);
    }

    [Fact]
    public void Implicit_conversion_from_int_sets_Kind_Number()
    {
        SensorValue value = 7;

        Assert.Equal(SensorValueKind.Number, value.Kind);
        Assert.Equal(7, value.Number);
    }

    [Fact]
    public void Implicit_conversion_from_string_sets_Kind_Text()
    {
        SensorValue value = "lying";

        Assert.Equal(SensorValueKind.Text, value.Kind);
        Assert.Equal("lying", value.Text);
        Assert.Throws<SensorValueException>(() => value.Number);
        Assert.False(value.Boolean);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Implicit_conversion_from_bool_sets_Kind_Boolean(bool flag)
    {
        SensorValue value = flag;

        Assert.Equal(SensorValueKind.Boolean, value.Kind);
        Assert.Equal(flag, value.Boolean);
        Assert.Throws<SensorValueException>(() => value.Number);
        Assert.Null(value.Text);
    }

    [Fact]
    public void FromText_rejects_null()
    {
        Assert.Throws<ArgumentNullException>(() => SensorValue.FromText(null!));
    }

    [Fact]
    public void Values_of_the_same_kind_and_content_are_equal()
    {
        Assert.Equal(SensorValue.FromNumber(1.5), (SensorValue)1.5);
        Assert.Equal(SensorValue.FromText("x"), (SensorValue)"x");
        Assert.Equal(SensorValue.FromBoolean(true), (SensorValue)true);
        Assert.NotEqual(SensorValue.FromNumber(1), SensorValue.FromBoolean(true));
        Assert.NotEqual(SensorValue.FromText("true"), SensorValue.FromBoolean(true));
    }

    [Fact]
    public void ToString_uses_invariant_round_trip_formatting()
    {
        Assert.Equal("0.1", SensorValue.FromNumber(0.1).ToString());
        Assert.Equal("-1.5E+300", SensorValue.FromNumber(-1.5e300).ToString());
        Assert.Equal("lying", SensorValue.FromText("lying").ToString());
        Assert.Equal("true", SensorValue.FromBoolean(true).ToString());
        Assert.Equal("false", SensorValue.FromBoolean(false).ToString());
    }
}

public sealed class SensorEventAccessorTests
{
    private static readonly Model.SensorEvent Event = new("s", "a", "parking", DateTimeOffset.UnixEpoch, new Dictionary<string, Model.SensorValue>
    {
        ["occupied"] = true,
        ["bay"] = "B12",
        ["level"] = 2.0,
    });

    [Fact]
    public void Typed_readers_return_the_value_only_for_its_kind()
    {
        Assert.True(Event.TryGetBoolean("occupied", out var occupied) && occupied);
        Assert.True(Event.TryGetText("bay", out var bay) && bay == "B12");
        Assert.True(Event.TryGetNumber("level", out var level) && level == 2.0);
        Assert.False(Event.TryGetBoolean("bay", out _));
        Assert.False(Event.TryGetText("level", out _));
        Assert.False(Event.TryGetNumber("occupied", out _));
        Assert.False(Event.TryGetBoolean("missing", out _));
    }
}
