using System.Text;
using Confluent.Kafka;
using Kommune.Connectors.Codecs;
using Kommune.Connectors.Kafka;
using Microsoft.Extensions.Time.Testing;

namespace Kommune.Connectors.Tests;

/// <summary>
/// Every refusal has its dead-letter code, chosen where the refusal is found (never recovered from its text): each
/// refusal of the decoder has one of its own, never <c>other</c>, and the code survives any rewording of the text.
/// </summary>
public sealed class DeadLetterCodeTests
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
        Assert.False(decoder.TryDecode(Encoding.UTF8.GetBytes(key), json is null ? null : Encoding.UTF8.GetBytes(json), out _, out var failure));

        Assert.Equal(code, failure.Code.Label);
        Assert.Same(DeadLetterStage.Decode, failure.Code.Stage);
        Assert.NotSame(DeadLetterCode.Other, failure.Code);
        Assert.Contains(failure.Code, DeadLetterCode.All);
    }

    [Fact]
    public void A_record_over_the_size_limit_is_too_large()
    {
        var decoder = new SensorEventDecoder(new SensorEventLimits(MaxEventBytes: 64, MaxFutureSkew: TimeSpan.FromHours(1)), new FakeTimeProvider(Now));
        Assert.False(decoder.TryDecode(null, new byte[65], out _, out var failure));

        Assert.Same(DeadLetterCode.TooLarge, failure.Code);
    }

    [Fact]
    public void A_decoded_event_leaves_no_failure()
    {
        var decoder = new SensorEventDecoder(SensorEventLimits.Default, new FakeTimeProvider(Now));
        Assert.True(decoder.TryDecode(null, "{\"sensorId\":\"s\",\"areaId\":\"a\",\"type\":\"t\",\"ts\":1777636800000}"u8.ToArray(), out _, out var failure));

        Assert.Equal(default, failure);
    }

    [Theory]
    [InlineData("event", "{\"sensorId\":", "malformed_json")]
    [InlineData("fact", "{\"sensorId\":\"s\"}", "missing_field")]
    [InlineData("watermark", "zero=1", "other")]
    [InlineData("command", "{}", "other")] // without its owner headers
    [InlineData("gossip", "{}", "other")]
    public void A_repartition_record_refusal_has_its_decoders_code_or_an_explicit_other(string kind, string value, string code)
    {
        var headers = new Headers { { RepartitionCodec.KindHeader, Encoding.UTF8.GetBytes(kind) } };
        Assert.False(RepartitionCodec.TryDecode(null, Encoding.UTF8.GetBytes(value), headers, out _, out var failure));

        Assert.Equal(code, failure.Code.Label);
        Assert.False(string.IsNullOrWhiteSpace(failure.Text));
    }

    [Theory]
    [InlineData("late", "late")]
    [InlineData("rule_failed", "rule")]
    [InlineData("command_refused", "command")]
    [InlineData("output_refused", "output")]
    [InlineData("malformed_json", "decode")]
    [InlineData("other", "decode")]
    public void A_dead_letters_stage_is_its_codes(string code, string stage)
    {
        var deadLetter = new DeadLetter(null, null, "t", 0, 0, "any text", DeadLetterCode.FromLabel(code)!);

        Assert.Equal(stage, deadLetter.Stage.Label);
    }

    [Fact]
    public void Rewording_a_reason_changes_neither_the_code_nor_the_stage_a_dead_letter_is_written_with()
    {
        var first = new DeadLetter(null, "{}"u8.ToArray(), "kommune.sensor-events", 1, 7, "missing field 'areaId'", DeadLetterCode.MissingField);
        var reworded = first with { Reason = "the field areaId was not there (something new)" };

        var written = DeadLetterMessages.Build(first, DeadLetterForm.Whole, null);
        var rewritten = DeadLetterMessages.Build(reworded, DeadLetterForm.Prefix, "too large");

        Assert.Equal("missing_field", Header(written, DeadLetterHeaders.Code));
        Assert.Equal("missing_field", Header(rewritten, DeadLetterHeaders.Code));
        Assert.Equal("decode", Header(rewritten, DeadLetterHeaders.Stage));
        Assert.Equal(reworded.Reason, Header(rewritten, DeadLetterHeaders.Reason));
    }

    [Fact]
    public void Every_code_has_a_distinct_bounded_label_found_by_it_and_every_stage_has_a_code()
    {
        Assert.Equal(DeadLetterCode.All.Count, DeadLetterCode.All.Select(c => c.Label).Distinct(StringComparer.Ordinal).Count());
        Assert.All(DeadLetterCode.All, c => Assert.Matches("^[a-z][a-z_]*$", c.Label));
        Assert.All(DeadLetterCode.All, c => Assert.Same(c, DeadLetterCode.FromLabel(c.Label)));
        Assert.Null(DeadLetterCode.FromLabel("record value is null"));
        Assert.Null(DeadLetterCode.FromLabel(null));
        Assert.Equal(
            ["decode", "late", "rule", "command", "output"],
            DeadLetterStage.All.Select(s => s.Label));
        Assert.All(DeadLetterStage.All, s => Assert.Contains(DeadLetterCode.All, c => c.Stage == s));
    }

    private static string? Header(Message<byte[]?, byte[]?> message, string name) =>
        message.Headers.TryGetLastBytes(name, out var bytes) ? Encoding.UTF8.GetString(bytes) : null;
}
