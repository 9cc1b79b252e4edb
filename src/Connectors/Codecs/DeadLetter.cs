namespace Kommune.Connectors.Codecs;

/// <summary>
/// A record the engine could not use, with where it came from and why. It is written to the dead-letter topic
/// with the original key and value bytes unchanged, and its context in headers (see <see cref="DeadLetterHeaders"/>).
/// </summary>
/// <param name="Key">The original record key, or null.</param>
/// <param name="Value">The original record value, or null.</param>
/// <param name="SourceTopic">The topic it was read from.</param>
/// <param name="SourcePartition">The partition it was read from.</param>
/// <param name="SourceOffset">Its offset there.</param>
/// <param name="Reason">One line saying what was wrong.</param>
/// <param name="Stage">Where it failed: <c>decode</c> (bad input) or <c>rule</c> (a rule threw).</param>
public sealed record DeadLetter(
    byte[]? Key,
    byte[]? Value,
    string SourceTopic,
    int SourcePartition,
    long SourceOffset,
    string Reason,
    string Stage);

/// <summary>The names of the headers a dead-letter record carries.</summary>
public static class DeadLetterHeaders
{
    /// <summary>The one-line reason.</summary>
    public const string Reason = "kommune.dlq.reason";

    /// <summary>Where it failed: decode or rule.</summary>
    public const string Stage = "kommune.dlq.stage";

    /// <summary>The source topic.</summary>
    public const string SourceTopic = "kommune.dlq.source.topic";

    /// <summary>The source partition, as decimal text.</summary>
    public const string SourcePartition = "kommune.dlq.source.partition";

    /// <summary>The source offset, as decimal text.</summary>
    public const string SourceOffset = "kommune.dlq.source.offset";
}
