using System.Text;
using Kommune.Connectors.Codecs;
using Microsoft.Extensions.Time.Testing;

namespace Kommune.Connectors.Tests;

/// <summary>Every refusal of the decoder has a reason code of its own (a metric label), never "other".</summary>
public sealed class DeadLetterReasonsTests
{
    private static readonly DateTimeOffset Now = new(2026, 5, 1, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("s", null, "null_value")]
    [InlineData("s", "{\"sensorId\":", "malformed_json")]
    [InlineData("s", "{\"sensorId\":\"s\"} trailing", "malformed_json")]
    [InlineData("s", "[1,2]", "not_an_object")]
    [InlineData("s", "{\"sensorId\":\"s\",\"areaId\":\"a\",\"type\":\"t\"}", "missing_field")]
    [InlineData("s", "{\"sensorId\":5,\"areaId\":\"a\",\"type\":\"t\",\"ts\":1777636800000}", "wrong_type")]
    [InlineData("s", "{\"sensorId\":\"s\",\"areaId\":\"a\",\"type\":\"t\",\"ts\":1777636800000,\"values\":[]}", "wrong_type")]
    [InlineData("", "{\"sensorId\":\"\",\"areaId\":\"a\",\"type\":\"t\",\"ts\":1777636800000}", "bad_id")]
    [InlineData("s", "{\"sensorId\":\"s\",\"areaId\":\"a\\nb\",\"type\":\"t\",\"ts\":1777636800000}", "bad_id")]
    [InlineData("s", "{\"sensorId\":\"s\",\"areaId\":\"a\",\"type\":\"t\",\"ts\":\"yesterday\"}", "bad_timestamp")]
    [InlineData("s", "{\"sensorId\":\"s\",\"areaId\":\"a\",\"type\":\"t\",\"ts\":-5}", "bad_timestamp")]
    [InlineData("s", "{\"sensorId\":\"s\",\"areaId\":\"a\",\"type\":\"t\",\"ts\":1.5}", "bad_timestamp")]
    [InlineData("s", "{\"sensorId\":\"s\",\"areaId\":\"a\",\"type\":\"t\",\"ts\":true}", "bad_timestamp")]
    [InlineData("s", "{\"sensorId\":\"s\",\"areaId\":\"a\",\"type\":\"t\",\"ts\":4102444800000}", "future_timestamp")]
    [InlineData("s", "{\"sensorId\":\"s\",\"areaId\":\"a\",\"type\":\"t\",\"ts\":0}", "too_old_timestamp")]
    [InlineData("s", "{\"sensorId\":\"s\",\"areaId\":\"a\",\"type\":\"t\",\"ts\":1777636800000,\"values\":{\"kw\":1e400}}", "not_finite")]
    [InlineData("s", "{\"sensorId\":\"s\",\"areaId\":\"a\",\"type\":\"t\",\"ts\":1777636800000,\"values\":{\"kw\":{}}}", "nested_value")]
    [InlineData("other", "{\"sensorId\":\"s\",\"areaId\":\"a\",\"type\":\"t\",\"ts\":1777636800000}", "key_mismatch")]
    public void A_decoder_refusal_has_its_own_code(string key, string? json, string code)
    {
        var decoder = new SensorEventDecoder(SensorEventLimits.Default, new FakeTimeProvider(Now));
        Assert.False(decoder.TryDecode(Encoding.UTF8.GetBytes(key), json is null ? null : Encoding.UTF8.GetBytes(json), out _, out var reason));

        Assert.Equal(code, DeadLetterReasons.Code("decode", reason!));
        Assert.Contains(code, DeadLetterReasons.All);
    }

    [Fact]
    public void A_record_over_the_size_limit_is_too_large()
    {
        var decoder = new SensorEventDecoder(new SensorEventLimits(MaxEventBytes: 64, MaxFutureSkew: TimeSpan.FromHours(1)), new FakeTimeProvider(Now));
        Assert.False(decoder.TryDecode(null, new byte[65], out _, out var reason));

        Assert.Equal("too_large", DeadLetterReasons.Code("decode", reason!));
    }

    [Theory]
    [InlineData("late", "late: event time 2026-01-01T00:00:00Z is more than 00:00:30 behind the watermark", "late")]
    [InlineData("rule", "rule 'x' threw InvalidOperationException in OnEvent: boom", "rule_failed")]
    [InlineData("command", "no open alert 'a'", "command_refused")]
    [InlineData("decode", "something new", "other")]
    public void Other_stages_have_their_codes(string stage, string reason, string code) =>
        Assert.Equal(code, DeadLetterReasons.Code(stage, reason));
}
