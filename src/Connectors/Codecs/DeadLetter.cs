namespace Kommune.Connectors.Codecs;

/// <summary>
/// A record the engine could not use, with where it came from and why. It is written to the dead-letter topic
/// with the original key and value bytes unchanged, and its context in headers (see <see cref="DeadLetterHeaders"/>);
/// when the whole record cannot be written (too large for the topic, or refused by the broker for what it holds), it
/// is written with a prefix of its value, or none, and the length and SHA-256 of what was left out (docs/events.md).
/// </summary>
/// <param name="Key">The original record key, or null.</param>
/// <param name="Value">The original record value, or null.</param>
/// <param name="SourceTopic">The topic it was read from.</param>
/// <param name="SourcePartition">The partition it was read from.</param>
/// <param name="SourceOffset">Its offset there.</param>
/// <param name="Reason">One line saying what was wrong, for people (never read back into a code).</param>
/// <param name="Code">
/// What kind of refusal it is, chosen where the dead letter is made: the metric label and the
/// <see cref="DeadLetterHeaders.Code"/> header. It also says the <see cref="Stage"/>.
/// </param>
public sealed record DeadLetter(
    byte[]? Key,
    byte[]? Value,
    string SourceTopic,
    int SourcePartition,
    long SourceOffset,
    string Reason,
    DeadLetterCode Code)
{
    /// <summary>
    /// Where it failed (its code's stage): <c>decode</c> (bad input), <c>late</c> (behind the watermark), <c>rule</c>
    /// (a rule threw), <c>command</c> (an operations centre's command that could not be applied) or <c>output</c> (an
    /// output record the broker refused for good, written here in its place).
    /// </summary>
    public DeadLetterStage Stage => Code.Stage;
}

/// <summary>The names of the headers a dead-letter record carries.</summary>
public static class DeadLetterHeaders
{
    /// <summary>The one-line reason.</summary>
    public const string Reason = "kommune.dlq.reason";

    /// <summary>Where it failed: decode, late, rule, command or output.</summary>
    public const string Stage = "kommune.dlq.stage";

    /// <summary>What kind of refusal it is: a <see cref="DeadLetterCode.Label"/>, such as <c>malformed_json</c>.</summary>
    public const string Code = "kommune.dlq.code";

    /// <summary>The source topic.</summary>
    public const string SourceTopic = "kommune.dlq.source.topic";

    /// <summary>The source partition, as decimal text.</summary>
    public const string SourcePartition = "kommune.dlq.source.partition";

    /// <summary>The source offset, as decimal text.</summary>
    public const string SourceOffset = "kommune.dlq.source.offset";

    /// <summary>
    /// Present when the value is not the whole original: <c>prefix</c> (its first bytes) or <c>none</c> (left out).
    /// </summary>
    public const string ValueForm = "kommune.dlq.value.form";

    /// <summary>With <see cref="ValueForm"/>: the original value's length in bytes, as decimal text.</summary>
    public const string ValueLength = "kommune.dlq.value.length";

    /// <summary>With <see cref="ValueForm"/>: the SHA-256 of the original value, as lowercase hex.</summary>
    public const string ValueSha256 = "kommune.dlq.value.sha256";

    /// <summary>Present when the key is not the whole original: its first bytes are the record's key.</summary>
    public const string KeyLength = "kommune.dlq.key.length";

    /// <summary>With <see cref="KeyLength"/>: the SHA-256 of the original key, as lowercase hex.</summary>
    public const string KeySha256 = "kommune.dlq.key.sha256";

    /// <summary>With <see cref="ValueForm"/>: why the whole record was not written (its size, or the broker's refusal).</summary>
    public const string Refused = "kommune.dlq.refused";
}
