using System.Text;
using Kommune.Connectors.Codecs;
using Kommune.Rules.Model;

namespace Kommune.Connectors.Tests;

public sealed class AlertCommandDecoderTests
{
    private static (bool Ok, AlertCommand? Command, string? Reason, DeadLetterCode? Code) Decode(string? json, string? key = null)
    {
        var ok = AlertCommandDecoder.TryDecode(
            key is null ? null : Encoding.UTF8.GetBytes(key),
            json is null ? null : Encoding.UTF8.GetBytes(json),
            out var command,
            out var failure);
        return (ok, command, failure.Text, failure.Code);
    }

    [Fact]
    public void A_valid_ack_and_resolve_decode()
    {
        var ack = Decode("""{"alertId":"fall:w-1:1","action":"ack","by":"nurse Kari","ts":"2026-11-27T08:00:00+01:00"}""", "fall:w-1:1");
        var resolve = Decode("""{"alertId":"fall:w-1:1","action":"resolve","by":"ops","ts":1795766400000}""");

        Assert.True(ack.Ok, ack.Reason);
        Assert.Equal(new AlertCommand("fall:w-1:1", AlertAction.Ack, "nurse Kari", new DateTimeOffset(2026, 11, 27, 7, 0, 0, TimeSpan.Zero)), ack.Command);
        Assert.True(resolve.Ok, resolve.Reason);
        Assert.Equal(AlertAction.Resolve, resolve.Command!.Action);
        Assert.Equal(1795766400000, resolve.Command.Timestamp.ToUnixTimeMilliseconds());
    }

    [Theory]
    [InlineData(null, "record value is null", "null_value")]
    [InlineData("{", "malformed JSON", "malformed_json")]
    [InlineData("[1]", "a command must be a JSON object, not array", "not_an_object")]
    [InlineData("""{"action":"ack","by":"x","ts":1}""", "field 'alertId' is missing", "bad_id")]
    [InlineData("""{"alertId":"a","by":"x","ts":1}""", "field 'action' is missing", "wrong_type")]
    [InlineData("""{"alertId":"a","action":"ACK","by":"x","ts":1}""", "field 'action' must be \"ack\" or \"resolve\", not \"ACK\"", "wrong_type")]
    [InlineData("""{"alertId":"a","action":"ack","ts":1}""", "field 'by' is missing", "bad_id")]
    [InlineData("""{"alertId":"a","action":"ack","by":"x"}""", "field 'ts' is missing", "missing_field")]
    [InlineData("""{"alertId":"a","action":"ack","by":"x","ts":"yesterday"}""", "field 'ts' must be an RFC 3339 time", "bad_timestamp")]
    [InlineData("""{"alertId":"a","action":"ack","by":"x","ts":"2026-11-27T08:00:00"}""", "field 'ts' must be an RFC 3339 time", "bad_timestamp")]
    [InlineData("""{"alertId":"a","action":"ack","by":"x","ts":1,"note":"hi"}""", "unknown field 'note'", "other")]
    public void A_bad_command_is_refused_with_a_reason_and_its_code(string? json, string reason, string code)
    {
        var (ok, command, why, kind) = Decode(json);

        Assert.False(ok);
        Assert.Null(command);
        Assert.StartsWith(reason, why, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', why!);
        Assert.Equal(code, kind?.Label);
    }

    [Fact]
    public void A_key_that_differs_from_the_alert_id_is_refused()
    {
        var (ok, _, reason, code) = Decode("""{"alertId":"a","action":"ack","by":"x","ts":1}""", "b");

        Assert.False(ok);
        Assert.Equal("record key 'b' differs from alertId 'a'", reason);
        Assert.Same(DeadLetterCode.KeyMismatch, code);
    }
}
