using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Confluent.Kafka;
using Kommune.Connectors.Codecs;
using Kommune.Connectors.Kafka;

namespace Kommune.Connectors.Tests;

public sealed class DeadLetterMessagesTests
{
    private static readonly DeadLetter Large = new(
        Encoding.UTF8.GetBytes(new string('k', 3000)), Enumerable.Range(0, 5000).Select(i => (byte)i).ToArray(),
        "kommune.sensor-events", 3, 42, "record value is 5000 bytes, over the limit of 4096 bytes", DeadLetterCode.TooLarge);

    [Fact]
    public void The_whole_form_keeps_key_and_value_unchanged_and_adds_no_reduction_headers()
    {
        var message = DeadLetterMessages.Build(Large, DeadLetterForm.Whole, null);

        Assert.Equal(Large.Key, message.Key);
        Assert.Equal(Large.Value, message.Value);
        Assert.Equal("3", Header(message, DeadLetterHeaders.SourcePartition));
        Assert.Equal("42", Header(message, DeadLetterHeaders.SourceOffset));
        Assert.Null(Header(message, DeadLetterHeaders.ValueForm));
        Assert.Null(Header(message, DeadLetterHeaders.ValueLength));
    }

    [Fact]
    public void The_prefix_form_keeps_the_first_bytes_and_says_how_long_the_whole_was_its_hash_and_why()
    {
        var message = DeadLetterMessages.Build(Large, DeadLetterForm.Prefix, "MsgSizeTooLarge: too large");

        Assert.Equal(Large.Value![..DeadLetterMessages.PrefixBytes], message.Value);
        Assert.Equal("prefix", Header(message, DeadLetterHeaders.ValueForm));
        Assert.Equal("5000", Header(message, DeadLetterHeaders.ValueLength));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Large.Value!)), Header(message, DeadLetterHeaders.ValueSha256));
        Assert.Equal("MsgSizeTooLarge: too large", Header(message, DeadLetterHeaders.Refused));
        Assert.Equal(Large.Reason, Header(message, DeadLetterHeaders.Reason));
        // A key over the prefix length is cut the same way, with its own length and hash.
        Assert.Equal(Large.Key![..DeadLetterMessages.PrefixBytes], message.Key);
        Assert.Equal("3000", Header(message, DeadLetterHeaders.KeyLength));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Large.Key!)), Header(message, DeadLetterHeaders.KeySha256));
    }

    [Fact]
    public void The_headers_only_form_has_no_value_but_still_the_length_and_hash_of_the_value()
    {
        var message = DeadLetterMessages.Build(Large, DeadLetterForm.HeadersOnly, "InvalidRecord: refused");

        Assert.Null(message.Value);
        Assert.Equal("none", Header(message, DeadLetterHeaders.ValueForm));
        Assert.Equal("5000", Header(message, DeadLetterHeaders.ValueLength));
        Assert.NotNull(Header(message, DeadLetterHeaders.ValueSha256));
    }

    [Fact]
    public void A_null_value_and_a_short_key_stay_as_they_are_in_a_reduced_form()
    {
        var tombstone = Large with { Key = "s-1"u8.ToArray(), Value = null };

        var message = DeadLetterMessages.Build(tombstone, DeadLetterForm.Prefix, "why");

        Assert.Null(message.Value);
        Assert.Equal("s-1"u8.ToArray(), message.Key);
        Assert.Equal("-1", Header(message, DeadLetterHeaders.ValueLength));
        Assert.Null(Header(message, DeadLetterHeaders.ValueSha256));
        Assert.Null(Header(message, DeadLetterHeaders.KeyLength));
    }

    [Fact]
    public void A_long_reason_is_cut_so_that_the_headers_stay_small()
    {
        var verbose = Large with { Reason = new string('r', 50_000) };

        var message = DeadLetterMessages.Build(verbose, DeadLetterForm.Whole, null);

        Assert.True(Header(message, DeadLetterHeaders.Reason)!.Length <= DeadLetterMessages.MaxReasonChars + 1);
        Assert.True(DeadLetterMessages.WholeSize(Large) > Large.Value!.Length + Large.Key!.Length);
    }

    [Theory]
    [InlineData(ErrorCode.MsgSizeTooLarge, true)]
    [InlineData(ErrorCode.InvalidRecord, true)]
    [InlineData(ErrorCode.PolicyViolation, true)]
    [InlineData(ErrorCode.RecordListTooLarge, true)]
    [InlineData(ErrorCode.NotLeaderForPartition, false)]
    [InlineData(ErrorCode.RequestTimedOut, false)]
    [InlineData(ErrorCode.Local_MsgTimedOut, false)]
    [InlineData(ErrorCode.TopicAuthorizationFailed, false)]
    public void Only_errors_about_the_record_itself_stop_the_retries(ErrorCode code, bool refusesTheRecord) =>
        Assert.Equal(refusesTheRecord, KafkaOutputSink.RefusesTheRecord(code));

    [Fact]
    public void Refusals_are_remembered_raised_never_lowered_and_bounded()
    {
        var refusals = new RefusedRecords();
        refusals.Remember("a", new Refusal(1, "first"));
        refusals.Remember("a", new Refusal(2, "second"));
        refusals.Remember("a", new Refusal(1, "lower"));
        Assert.True(refusals.TryGet("a", out var known));
        Assert.Equal(new Refusal(2, "second"), known);

        for (var i = 0; i < RefusedRecords.Capacity + 10; i++)
        {
            refusals.Remember(i.ToString(CultureInfo.InvariantCulture), new Refusal(1, "r"));
        }

        Assert.True(refusals.Count <= RefusedRecords.Capacity);
        Assert.False(refusals.TryGet("a", out _)); // the oldest went first
    }

    private static string? Header(Message<byte[]?, byte[]?> message, string name) =>
        message.Headers.TryGetLastBytes(name, out var bytes) ? Encoding.UTF8.GetString(bytes) : null;
}
