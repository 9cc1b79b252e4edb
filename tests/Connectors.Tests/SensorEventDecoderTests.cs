using System.Text;
using Kommune.Connectors.Codecs;
using Kommune.Rules.Model;
using Microsoft.Extensions.Time.Testing;

namespace Kommune.Connectors.Tests;

public sealed class SensorEventDecoderTests
{
    private static readonly DateTimeOffset Now = new(2024, 5, 1, 12, 0, 0, TimeSpan.Zero);

    private static SensorEventDecoder NewDecoder(SensorEventLimits? limits = null) =>
        new(limits ?? SensorEventLimits.Default, new FakeTimeProvider(Now));

    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    private static SensorEvent Accept(string json, string? key = null, SensorEventDecoder? decoder = null)
    {
        var ok = (decoder ?? NewDecoder()).TryDecode(key is null ? null : Utf8(key), Utf8(json), out var sensorEvent, out var failure);
        Assert.True(ok, $"expected the record to be accepted, but it was refused: {failure.Text}");
        Assert.Equal(default, failure);
        Assert.NotNull(sensorEvent);
        return sensorEvent;
    }

    private static string Refuse(byte[]? key, byte[]? value, SensorEventDecoder? decoder = null)
    {
        var ok = (decoder ?? NewDecoder()).TryDecode(key, value, out var sensorEvent, out var failure);
        Assert.False(ok);
        Assert.Null(sensorEvent);
        Assert.NotNull(failure.Code);
        var reason = failure.Text;
        Assert.NotNull(reason);
        Assert.False(string.IsNullOrWhiteSpace(reason));
        Assert.DoesNotContain('\n', reason);
        Assert.DoesNotContain('\r', reason);
        return reason;
    }

    private static string Refuse(string json, string? key = null, SensorEventDecoder? decoder = null) =>
        Refuse(key is null ? null : Utf8(key), Utf8(json), decoder);

    // ---- accepted ----

    [Fact]
    public void Rfc3339_time_with_Z_is_accepted()
    {
        var e = Accept("""{"sensorId":"s-1","areaId":"area-001","type":"traffic","ts":"2024-05-01T10:00:00.250Z","values":{"speed":42.5}}""");

        Assert.Equal("s-1", e.SensorId);
        Assert.Equal("area-001", e.AreaId);
        Assert.Equal("traffic", e.Type);
        Assert.Equal(new DateTimeOffset(2024, 5, 1, 10, 0, 0, 250, TimeSpan.Zero), e.Timestamp);
        Assert.True(e.TryGetNumber("speed", out var speed));
        Assert.Equal(42.5, speed);
    }

    [Fact]
    public void Rfc3339_time_with_plus_one_hour_offset_is_accepted_as_the_same_instant()
    {
        var e = Accept("""{"sensorId":"s-1","areaId":"a","type":"fall","ts":"2024-05-01T11:00:00+01:00"}""");

        Assert.Equal(new DateTimeOffset(2024, 5, 1, 10, 0, 0, TimeSpan.Zero), e.Timestamp);
        Assert.Equal(new DateTimeOffset(2024, 5, 1, 10, 0, 0, TimeSpan.Zero).UtcTicks, e.Timestamp.UtcTicks);
    }

    [Fact]
    public void Epoch_milliseconds_time_is_accepted()
    {
        var expected = new DateTimeOffset(2024, 5, 1, 10, 0, 0, 123, TimeSpan.Zero);
        var e = Accept($$"""{"sensorId":"s-1","areaId":"a","type":"fall","ts":{{expected.ToUnixTimeMilliseconds()}}}""");

        Assert.Equal(expected, e.Timestamp);
    }

    [Fact]
    public void Numbers_strings_and_booleans_are_accepted_as_values()
    {
        var e = Accept("""{"sensorId":"s","areaId":"a","type":"t","ts":"2024-05-01T10:00:00Z","values":{"n":-1.5e3,"i":7,"s":"lying","b":true,"f":false}}""");

        Assert.Equal(5, e.Values.Count);
        Assert.Equal(SensorValueKind.Number, e.Values["n"].Kind);
        Assert.Equal(-1500, e.Values["n"].Number);
        Assert.Equal(7, e.Values["i"].Number);
        Assert.Equal(SensorValueKind.Text, e.Values["s"].Kind);
        Assert.Equal("lying", e.Values["s"].Text);
        Assert.Equal(SensorValueKind.Boolean, e.Values["b"].Kind);
        Assert.True(e.Values["b"].Boolean);
        Assert.Equal(SensorValueKind.Boolean, e.Values["f"].Kind);
        Assert.False(e.Values["f"].Boolean);
    }

    [Theory]
    [InlineData("""{"sensorId":"s","areaId":"a","type":"t","ts":"2024-05-01T10:00:00Z"}""")]
    [InlineData("""{"sensorId":"s","areaId":"a","type":"t","ts":"2024-05-01T10:00:00Z","values":null}""")]
    [InlineData("""{"sensorId":"s","areaId":"a","type":"t","ts":"2024-05-01T10:00:00Z","values":{}}""")]
    public void Missing_or_empty_values_give_an_event_without_values(string json)
    {
        var e = Accept(json);

        Assert.NotNull(e.Values);
        Assert.Empty(e.Values);
    }

    [Fact]
    public void Unknown_extra_fields_are_ignored()
    {
        var e = Accept("""{"version":2,"sensorId":"s","meta":{"fw":"1.2","tags":["x",{"y":[1,2]}]},"areaId":"a","type":"t","ts":"2024-05-01T10:00:00Z","extra":null,"values":{"v":1},"flag":true}""");

        Assert.Equal("s", e.SensorId);
        Assert.Equal("a", e.AreaId);
        Assert.Equal("t", e.Type);
        Assert.Single(e.Values);
        Assert.Equal(1, e.Values["v"].Number);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("sensor-æøå-1")]
    public void Key_null_or_equal_to_sensorId_is_accepted(string? key)
    {
        var e = Accept("""{"sensorId":"sensor-æøå-1","areaId":"a","type":"t","ts":"2024-05-01T10:00:00Z"}""", key);

        Assert.Equal("sensor-æøå-1", e.SensorId);
    }

    [Fact]
    public void Time_within_the_allowed_future_skew_is_accepted()
    {
        var e = Accept($$"""{"sensorId":"s","areaId":"a","type":"t","ts":{{Now.AddMinutes(59).ToUnixTimeMilliseconds()}}}""");

        Assert.Equal(Now.AddMinutes(59), e.Timestamp);
    }

    // ---- refused ----

    [Fact]
    public void Null_value_is_refused_with_reason()
    {
        var reason = Refuse(Utf8("s"), null);

        Assert.Contains("null", reason, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Oversized_value_is_refused_with_reason()
    {
        var decoder = NewDecoder(new SensorEventLimits(MaxEventBytes: 64, MaxFutureSkew: TimeSpan.FromHours(1)));
        var json = """{"sensorId":"s","areaId":"a","type":"t","ts":"2024-05-01T10:00:00Z","values":{"note":"this makes the record longer than sixty-four bytes"}}""";

        var reason = Refuse(json, decoder: decoder);

        Assert.Contains("limit", reason, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("64", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Value_at_exactly_the_size_limit_is_accepted()
    {
        var json = """{"sensorId":"s","areaId":"a","type":"t","ts":"2024-05-01T10:00:00Z"}""";
        var decoder = NewDecoder(new SensorEventLimits(MaxEventBytes: Utf8(json).Length, MaxFutureSkew: TimeSpan.FromHours(1)));

        Accept(json, decoder: decoder);
    }

    [Theory]
    [InlineData("""{"sensorId":"s","areaId":"a","type":"t","ts":"2024-05-01T1""")]
    [InlineData("""{"sensorId":"s","areaId":"a","type":"t","ts":"2024-05-01T10:00:00Z" """)]
    [InlineData("""{"sensorId":"s","areaId":""")]
    [InlineData("this is not JSON")]
    [InlineData("""{"sensorId":"s","areaId":"a","type":"t","ts":"2024-05-01T10:00:00Z","values":{"x":NaN}}""")]
    [InlineData("NaN")]
    [InlineData("")]
    public void Malformed_json_is_refused_with_reason(string json)
    {
        var reason = Refuse(json);

        Assert.Contains("JSON", reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""[{"sensorId":"s","areaId":"a","type":"t","ts":"2024-05-01T10:00:00Z"}]""")]
    [InlineData("42")]
    [InlineData("\"a string\"")]
    [InlineData("null")]
    public void Json_that_is_not_an_object_is_refused_with_reason(string json)
    {
        var reason = Refuse(json);

        Assert.Contains("JSON object", reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"areaId":"a","type":"t","ts":"2024-05-01T10:00:00Z"}""", "sensorId")]
    [InlineData("""{"sensorId":"s","type":"t","ts":"2024-05-01T10:00:00Z"}""", "areaId")]
    [InlineData("""{"sensorId":"s","areaId":"a","ts":"2024-05-01T10:00:00Z"}""", "type")]
    [InlineData("""{"sensorId":"s","areaId":"a","type":"t"}""", "ts")]
    [InlineData("""{}""", "sensorId")]
    public void Missing_required_field_is_refused_with_its_name(string json, string field)
    {
        var reason = Refuse(json);

        Assert.Contains("missing", reason, StringComparison.OrdinalIgnoreCase);
        Assert.Contains($"'{field}'", reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"sensorId":"","areaId":"a","type":"t","ts":"2024-05-01T10:00:00Z"}""")]
    [InlineData("""{"sensorId":"   ","areaId":"a","type":"t","ts":"2024-05-01T10:00:00Z"}""")]
    [InlineData("""{"sensorId":"\t","areaId":"a","type":"t","ts":"2024-05-01T10:00:00Z"}""")]
    public void Empty_or_whitespace_sensorId_is_refused_with_reason(string json)
    {
        var reason = Refuse(json);

        Assert.Contains("sensorId", reason, StringComparison.Ordinal);
        Assert.Contains("empty", reason, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("""{"sensorId":17,"areaId":"a","type":"t","ts":"2024-05-01T10:00:00Z"}""", "sensorId")]
    [InlineData("""{"sensorId":null,"areaId":"a","type":"t","ts":"2024-05-01T10:00:00Z"}""", "sensorId")]
    [InlineData("""{"sensorId":"s","areaId":true,"type":"t","ts":"2024-05-01T10:00:00Z"}""", "areaId")]
    [InlineData("""{"sensorId":"s","areaId":"a","type":["fall"],"ts":"2024-05-01T10:00:00Z"}""", "type")]
    public void Id_field_that_is_not_a_string_is_refused_with_its_name(string json, string field)
    {
        var reason = Refuse(json);

        Assert.Contains($"'{field}'", reason, StringComparison.Ordinal);
        Assert.Contains("must be a string", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void SensorId_with_control_characters_is_refused_with_reason()
    {
        var reason = Refuse("""{"sensorId":"s\u0000x","areaId":"a","type":"t","ts":"2024-05-01T10:00:00Z"}""");

        Assert.Contains("sensorId", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void SensorId_longer_than_256_characters_is_refused_with_reason()
    {
        var reason = Refuse($$"""{"sensorId":"{{new string('s', 257)}}","areaId":"a","type":"t","ts":"2024-05-01T10:00:00Z"}""");

        Assert.Contains("sensorId", reason, StringComparison.Ordinal);
        Assert.Contains("256", reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"2024-05-01T10:00:00\"")]
    [InlineData("\"2024-05-01T10:00:00.000\"")]
    [InlineData("\"2024-05-01\"")]
    [InlineData("\"yesterday\"")]
    [InlineData("\"\"")]
    [InlineData("true")]
    [InlineData("false")]
    [InlineData("null")]
    [InlineData("{}")]
    [InlineData("[]")]
    [InlineData("-1")]
    [InlineData("-1714557600000")]
    [InlineData("1714557600000.5")]
    [InlineData("99999999999999999999")]
    public void Invalid_ts_is_refused_with_reason_naming_ts(string ts)
    {
        var reason = Refuse($$"""{"sensorId":"s","areaId":"a","type":"t","ts":{{ts}}}""");

        Assert.Contains("'ts'", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Local_time_without_offset_is_refused_as_not_rfc3339()
    {
        var reason = Refuse("""{"sensorId":"s","areaId":"a","type":"t","ts":"2024-05-01T10:00:00"}""");

        Assert.Contains("'ts'", reason, StringComparison.Ordinal);
        Assert.Contains("offset", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Boolean_ts_is_refused_with_reason()
    {
        var reason = Refuse("""{"sensorId":"s","areaId":"a","type":"t","ts":true}""");

        Assert.Contains("'ts'", reason, StringComparison.Ordinal);
        Assert.Contains("boolean", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Negative_epoch_ts_is_refused_with_reason()
    {
        var reason = Refuse("""{"sensorId":"s","areaId":"a","type":"t","ts":-5}""");

        Assert.Contains("'ts'", reason, StringComparison.Ordinal);
        Assert.Contains("-5", reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(61)]
    [InlineData(60 * 24 * 365)]
    public void Ts_far_in_the_future_is_refused_with_reason(int minutesAhead)
    {
        var clock = new FakeTimeProvider(Now);
        var decoder = new SensorEventDecoder(SensorEventLimits.Default, clock);
        var ts = Now.AddMinutes(minutesAhead).ToUnixTimeMilliseconds();

        var reason = Refuse($$"""{"sensorId":"s","areaId":"a","type":"t","ts":{{ts}}}""", decoder: decoder);

        Assert.Contains("'ts'", reason, StringComparison.Ordinal);
        Assert.Contains("clock", reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)] // a sensor whose clock was reset
    [InlineData(946_684_799_999)] // one millisecond before 2000
    public void Ts_before_the_earliest_event_time_is_refused_with_reason(long millis)
    {
        var reason = Refuse($$"""{"sensorId":"s","areaId":"a","type":"t","ts":{{millis}}}""");

        Assert.Contains("'ts'", reason, StringComparison.Ordinal);
        Assert.Contains("before the earliest accepted event time 2000-01-01", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void The_earliest_event_time_is_accepted_and_can_be_set_earlier()
    {
        Accept("""{"sensorId":"s","areaId":"a","type":"t","ts":"2000-01-01T00:00:00Z"}""");
        var json = """{"sensorId":"s","areaId":"a","type":"t","ts":"1999-06-01T00:00:00Z"}""";
        Refuse(json);

        var e = Accept(json, decoder: NewDecoder(SensorEventLimits.Default with { EarliestEventTime = DateTimeOffset.UnixEpoch }));

        Assert.Equal(new DateTimeOffset(1999, 6, 1, 0, 0, 0, TimeSpan.Zero), e.Timestamp);
    }

    [Fact]
    public void Future_limit_follows_the_injected_clock()
    {
        var clock = new FakeTimeProvider(Now);
        var decoder = new SensorEventDecoder(SensorEventLimits.Default, clock);
        var json = $$"""{"sensorId":"s","areaId":"a","type":"t","ts":{{Now.AddHours(3).ToUnixTimeMilliseconds()}}}""";

        Refuse(json, decoder: decoder);
        clock.Advance(TimeSpan.FromHours(2));
        Accept(json, decoder: decoder);
    }

    [Theory]
    [InlineData("1e400")]
    [InlineData("-1e400")]
    public void Number_that_overflows_double_is_refused_with_reason(string number)
    {
        var reason = Refuse($$$"""{"sensorId":"s","areaId":"a","type":"t","ts":"2024-05-01T10:00:00Z","values":{"power":{{{number}}}}}""");

        Assert.Contains("'power'", reason, StringComparison.Ordinal);
        Assert.Contains("finite", reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"inner":1}""", "object")]
    [InlineData("""[1,2,3]""", "array")]
    [InlineData("""null""", "null")]
    public void Nested_object_array_or_null_inside_values_is_refused_with_reason(string nested, string described)
    {
        var reason = Refuse($$$"""{"sensorId":"s","areaId":"a","type":"t","ts":"2024-05-01T10:00:00Z","values":{"ok":1,"bad":{{{nested}}}}}""");

        Assert.Contains("'bad'", reason, StringComparison.Ordinal);
        Assert.Contains(described, reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("42")]
    [InlineData("\"x\"")]
    public void Values_that_is_not_an_object_is_refused_with_reason(string values)
    {
        var reason = Refuse($$"""{"sensorId":"s","areaId":"a","type":"t","ts":"2024-05-01T10:00:00Z","values":{{values}}}""");

        Assert.Contains("'values'", reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("other-sensor")]
    [InlineData("s-1 ")]
    [InlineData("S-1")]
    [InlineData("")]
    public void Key_that_differs_from_sensorId_is_refused_with_reason(string key)
    {
        var reason = Refuse("""{"sensorId":"s-1","areaId":"a","type":"t","ts":"2024-05-01T10:00:00Z"}""", key);

        Assert.Contains("key", reason, StringComparison.Ordinal);
        Assert.Contains("sensorId", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Key_that_is_not_utf8_is_refused_with_reason()
    {
        var reason = Refuse([0xff, 0xfe, 0x00], Utf8("""{"sensorId":"s-1","areaId":"a","type":"t","ts":"2024-05-01T10:00:00Z"}"""));

        Assert.Contains("key", reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"sensorId":"s","areaId":"a","type":"t","ts":"2024-05-01T10:00:00Z"}x""")]
    [InlineData("""{"sensorId":"s","areaId":"a","type":"t","ts":"2024-05-01T10:00:00Z"}{}""")]
    [InlineData("""{"sensorId":"s","areaId":"a","type":"t","ts":"2024-05-01T10:00:00Z"} 1""")]
    [InlineData("""{"sensorId":"s","areaId":"a","type":"t","ts":"2024-05-01T10:00:00Z"}}""")]
    public void Data_after_the_closing_brace_is_refused_with_reason(string json)
    {
        var reason = Refuse(json);

        Assert.Contains("JSON", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Trailing_whitespace_after_the_closing_brace_is_accepted()
    {
        Accept("{\"sensorId\":\"s\",\"areaId\":\"a\",\"type\":\"t\",\"ts\":\"2024-05-01T10:00:00Z\"}  \n");
    }

    [Fact]
    public void Deeply_nested_unknown_field_is_refused_without_throwing()
    {
        var nested = string.Concat(Enumerable.Repeat("[", 20)) + string.Concat(Enumerable.Repeat("]", 20));

        var reason = Refuse($$"""{"sensorId":"s","areaId":"a","type":"t","ts":"2024-05-01T10:00:00Z","deep":{{nested}}}""");

        Assert.Contains("JSON", reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a\nb", """{"sensorId":"s","areaId":"a","type":"t","ts":"2024-05-01T10:00:00Z"}""")]
    [InlineData(null, """{"sensorId":"s","areaId":"a","type":"t","ts":"bad\nts"}""")]
    [InlineData(null, """{"sensorId":"s","areaId":"a","type":"t","ts":"2024-05-01T10:00:00Z","values":{"x\ny":{}}}""")]
    [InlineData(null, """{"sensorId":"s","areaId":"a","type":"t","ts":"2024-05-01T10:00:00Z","values":{"x\u2028y":1e400}}""")]
    public void Reasons_that_quote_the_input_stay_on_one_line(string? key, string json)
    {
        var reason = Refuse(json, key);

        Assert.DoesNotContain('\u2028', reason);
        Assert.DoesNotContain('\u2029', reason);
    }

    [Fact]
    public void SensorId_with_a_line_separator_is_refused()
    {
        var reason = Refuse("""{"sensorId":"s\u2028t","areaId":"a","type":"t","ts":"2024-05-01T10:00:00Z"}""");

        Assert.Contains("sensorId", reason, StringComparison.Ordinal);
    }

    // ---- what a decoded event shares with earlier ones ----

    [Fact]
    public void Repeated_ids_and_value_names_are_the_same_strings_and_values_stay_per_event()
    {
        var decoder = NewDecoder();
        const string Json = """{"sensorId":"road-7","areaId":"area-1","type":"traffic","ts":1714557600000,"values":{"speed":%S,"posture":"ok"}}""";

        var first = Accept(Json.Replace("%S", "50", StringComparison.Ordinal), "road-7", decoder);
        var second = Accept(Json.Replace("%S", "30", StringComparison.Ordinal), "road-7", decoder);

        Assert.Same(first.SensorId, second.SensorId);
        Assert.Same(first.AreaId, second.AreaId);
        Assert.Same(first.Type, second.Type);
        Assert.Same(first.Values.Keys.First(), second.Values.Keys.First());
        Assert.Same(first.Values["posture"].Text, second.Values["posture"].Text);
        Assert.Equal(50, first.Values["speed"].Number);
        Assert.Equal(30, second.Values["speed"].Number);
        Assert.Equal(["speed", "posture"], second.Values.Keys);
    }

    [Fact]
    public void Values_behave_as_a_dictionary_and_a_repeated_name_takes_its_last_value()
    {
        var e = Accept("""{"sensorId":"s","areaId":"a","type":"t","ts":1714557600000,"values":{"a":1,"b":true,"a":3}}""");

        Assert.Equal(2, e.Values.Count);
        Assert.Equal(3, e.Values["a"].Number);
        Assert.True(e.Values.ContainsKey("b"));
        Assert.False(e.Values.TryGetValue("c", out _));
        Assert.Throws<KeyNotFoundException>(() => e.Values["c"]);
        Assert.Equal(new Dictionary<string, SensorValue> { ["a"] = 3, ["b"] = SensorValue.FromBoolean(true) }, new Dictionary<string, SensorValue>(e.Values));
    }

    [Fact]
    public void Many_values_are_all_kept()
    {
        var values = string.Join(",", Enumerable.Range(0, 40).Select(i => $"\"v{i}\":{i}"));
        var e = Accept("""{"sensorId":"s","areaId":"a","type":"t","ts":1714557600000,"values":{""" + values + ""","v3":-1}}""");

        Assert.Equal(40, e.Values.Count);
        Assert.Equal(39, e.Values["v39"].Number);
        Assert.Equal(-1, e.Values["v3"].Number);
    }

    [Fact]
    public void Escaped_ids_are_unescaped_and_invalid_utf8_is_refused()
    {
        var e = Accept("""{"sensorId":"s\u00f8r-1","areaId":"a","type":"t","ts":1714557600000}""", "s\u00f8r-1");
        Assert.Equal("s\u00f8r-1", e.SensorId);

        var value = Utf8("""{"sensorId":"s-#","areaId":"a","type":"t","ts":1714557600000}""");
        value[Array.IndexOf(value, (byte)'#')] = 0xff;
        Assert.Contains("JSON", Refuse(null, value), StringComparison.Ordinal);
    }
}
