using Kommune.Rules.Api;
using Kommune.Rules.Model;
using Kommune.Rules.Testing;

namespace Kommune.Rules.Tests;

/// <summary>A text, a boolean or a missing value is never read as a number: the SDK says which value of which sensor it was.</summary>
public sealed class ReadingNumbersTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 22, 0, 0, TimeSpan.Zero);

    private static SensorEvent Noise(string sensorId, SensorValue db) =>
        new(sensorId, "area-1", "noise", T0, new Dictionary<string, SensorValue> { ["db"] = db, ["battery"] = 80.0 });

    [Fact]
    public void TryGetNumber_reads_a_number_and_refuses_a_text_or_a_boolean()
    {
        Assert.True(SensorValue.FromNumber(71.5).TryGetNumber(out var number));
        Assert.Equal(71.5, number);
        Assert.False(SensorValue.FromText("loud").TryGetNumber(out number));
        Assert.Equal(0, number);
        Assert.False(SensorValue.FromBoolean(true).TryGetNumber(out _));
    }

    [Fact]
    public void Number_of_a_text_value_throws_instead_of_reading_zero()
    {
        var error = Assert.Throws<SensorValueException>(() => SensorValue.FromText("loud").Number);

        Assert.Equal("a value is text 'loud', not a number", error.Message);
        Assert.Equal(SensorValue.FromText("loud"), error.Value);
    }

    [Fact]
    public void Number_of_a_boolean_value_throws()
    {
        var error = Assert.Throws<SensorValueException>(() => SensorValue.FromBoolean(false).Number);

        Assert.Equal("a value is boolean false, not a number", error.Message);
    }

    [Fact]
    public void GetNumber_reads_a_number()
    {
        Assert.Equal(72, Noise("noise-7", 72.0).GetNumber("db"));
    }

    [Fact]
    public void GetNumber_of_a_text_names_the_value_the_sensor_and_the_text()
    {
        var error = Assert.Throws<SensorValueException>(() => Noise("noise-7", "loud").GetNumber("db"));

        Assert.Equal("value 'db' of sensor noise-7 is text 'loud', not a number", error.Message);
        Assert.Equal("db", error.ValueName);
        Assert.Equal("noise-7", error.SensorId);
    }

    [Fact]
    public void GetNumber_of_a_missing_value_says_it_is_missing()
    {
        var error = Assert.Throws<SensorValueException>(() => Noise("noise-7", 72.0).GetNumber("dba"));

        Assert.Equal("value 'dba' of sensor noise-7 is missing", error.Message);
        Assert.Null(error.Value);
    }

    [Fact]
    public void A_long_text_is_shortened_to_one_line_in_the_message()
    {
        var text = "line one\n" + new string('x', 500);

        var error = Assert.Throws<SensorValueException>(() => Noise("noise-7", text).GetNumber("db"));

        Assert.DoesNotContain('\n', error.Message);
        Assert.True(error.Message.Length < 150, error.Message);
        Assert.EndsWith("…', not a number", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TryGetNumber_of_the_event_skips_a_text_value()
    {
        Assert.False(Noise("noise-7", "loud").TryGetNumber("db", out _));
        Assert.True(Noise("noise-7", 70.0).TryGetNumber("db", out var db));
        Assert.Equal(70, db);
    }

    [Fact]
    public void In_the_test_kit_a_rule_reading_a_text_as_a_number_fails_with_the_value_and_sensor_named()
    {
        var kit = new RuleTestKit(start: T0).Bind(new LoudRule(), "night-noise");

        kit.Send(Noise("noise-7", "loud"));

        var failure = Assert.Single(kit.Failures);
        Assert.IsType<SensorValueException>(failure.Exception);
        Assert.Equal("value 'db' of sensor noise-7 is text 'loud', not a number", failure.Exception.Message);
        Assert.Equal("rule 'night-noise' threw SensorValueException in OnEvent: value 'db' of sensor noise-7 is text 'loud', not a number", failure.Reason);
        Assert.Empty(kit.Alerts);
    }

    [Fact]
    public void When_several_values_hold_the_same_text_the_failure_names_the_sensor_only()
    {
        var kit = new RuleTestKit(start: T0).Bind(new LoudRule(), "night-noise");

        kit.Send(new SensorEvent("noise-7", "area-1", "noise", T0, new Dictionary<string, SensorValue> { ["db"] = "n/a", ["peak"] = "n/a" }));

        Assert.Equal("a value of sensor noise-7 is text 'n/a', not a number", Assert.Single(kit.Failures).Exception.Message);
    }

    [Fact]
    public void A_rule_reading_numbers_safely_skips_the_text_and_counts_the_numbers()
    {
        var kit = new RuleTestKit(start: T0).Bind(new SafeLoudRule(), "night-noise");

        kit.Send(Noise("noise-7", "loud"));
        kit.Send(Noise("noise-7", 75.0) with { Timestamp = T0.AddSeconds(1) });

        Assert.Empty(kit.Failures);
        Assert.Equal("unusable-event", Assert.Single(kit.Problems).Kind);
        Assert.Single(kit.Alerts);
    }

    /// <summary>Reads the value the way that misread a text as 0 dB before.</summary>
    private sealed class LoudRule : Rule
    {
        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
        {
            if (sensorEvent.Values["db"].Number > 70)
            {
                context.RaiseAlert("loud", new AlertDraft("environment", "noise", AlertSeverity.Low, "loud"));
            }
        }
    }

    private sealed class SafeLoudRule : Rule
    {
        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
        {
            if (!sensorEvent.TryGetNumber("db", out var db))
            {
                context.ReportProblem("unusable-event", "value 'db' is not a number");
                return;
            }

            if (db > 70)
            {
                context.RaiseAlert("loud", new AlertDraft("environment", "noise", AlertSeverity.Low, "loud"));
            }
        }
    }
}
