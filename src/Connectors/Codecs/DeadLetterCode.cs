namespace Kommune.Connectors.Codecs;

/// <summary>
/// What kind of refusal a dead letter is: one of a fixed set, chosen where the dead letter is made. Its
/// <see cref="Label"/> is the <c>reason</c> label of <c>kommune_dead_letters_total</c> and the
/// <see cref="DeadLetterHeaders.Code"/> header; the reason text, which names fields, values and ids, is for people and
/// never read back into a code (docs/events.md lists every code).
/// </summary>
public sealed class DeadLetterCode
{
    private DeadLetterCode(string label, DeadLetterStage stage)
    {
        Label = label;
        Stage = stage;
    }

    /// <summary>The record value is null (a tombstone).</summary>
    public static DeadLetterCode NullValue { get; } = new("null_value", DeadLetterStage.Decode);

    /// <summary>The record value is over the size limit.</summary>
    public static DeadLetterCode TooLarge { get; } = new("too_large", DeadLetterStage.Decode);

    /// <summary>The record value is not well-formed JSON, or has data after its object.</summary>
    public static DeadLetterCode MalformedJson { get; } = new("malformed_json", DeadLetterStage.Decode);

    /// <summary>The record value is JSON, but not an object.</summary>
    public static DeadLetterCode NotAnObject { get; } = new("not_an_object", DeadLetterStage.Decode);

    /// <summary>A required field is missing.</summary>
    public static DeadLetterCode MissingField { get; } = new("missing_field", DeadLetterStage.Decode);

    /// <summary>A field has the wrong JSON type.</summary>
    public static DeadLetterCode WrongType { get; } = new("wrong_type", DeadLetterStage.Decode);

    /// <summary>An id is empty, too long or holds control characters.</summary>
    public static DeadLetterCode BadId { get; } = new("bad_id", DeadLetterStage.Decode);

    /// <summary>The event time is not a time the contract accepts (its form or range).</summary>
    public static DeadLetterCode BadTimestamp { get; } = new("bad_timestamp", DeadLetterStage.Decode);

    /// <summary>The event time is further after the engine's clock than the allowed skew.</summary>
    public static DeadLetterCode FutureTimestamp { get; } = new("future_timestamp", DeadLetterStage.Decode);

    /// <summary>The event time is before the earliest accepted event time (a sensor clock that was reset).</summary>
    public static DeadLetterCode TooOldTimestamp { get; } = new("too_old_timestamp", DeadLetterStage.Decode);

    /// <summary>A value is a number that is not finite.</summary>
    public static DeadLetterCode NotFinite { get; } = new("not_finite", DeadLetterStage.Decode);

    /// <summary>A value is an object or an array.</summary>
    public static DeadLetterCode NestedValue { get; } = new("nested_value", DeadLetterStage.Decode);

    /// <summary>The record key is not the id the value names.</summary>
    public static DeadLetterCode KeyMismatch { get; } = new("key_mismatch", DeadLetterStage.Decode);

    /// <summary>
    /// A decode refusal of a kind without a code of its own, chosen explicitly where it is made (for example a record
    /// of the repartition topic this version cannot read).
    /// </summary>
    public static DeadLetterCode Other { get; } = new("other", DeadLetterStage.Decode);

    /// <summary>An event further behind the watermark than the allowed lateness.</summary>
    public static DeadLetterCode Late { get; } = new("late", DeadLetterStage.Late);

    /// <summary>A rule threw while handling the event.</summary>
    public static DeadLetterCode RuleFailed { get; } = new("rule_failed", DeadLetterStage.Rule);

    /// <summary>A command that could not be applied (unreadable, or no open alert to apply it to).</summary>
    public static DeadLetterCode CommandRefused { get; } = new("command_refused", DeadLetterStage.Command);

    /// <summary>An output record the broker refused for good.</summary>
    public static DeadLetterCode OutputRefused { get; } = new("output_refused", DeadLetterStage.Output);

    /// <summary>Every code.</summary>
    public static IReadOnlyList<DeadLetterCode> All { get; } =
    [
        NullValue, TooLarge, MalformedJson, NotAnObject, MissingField, WrongType, BadId, BadTimestamp, FutureTimestamp,
        TooOldTimestamp, NotFinite, NestedValue, KeyMismatch, Other, Late, RuleFailed, CommandRefused, OutputRefused,
    ];

    /// <summary>The code's text: the metric label and header value, such as <c>malformed_json</c>.</summary>
    public string Label { get; }

    /// <summary>The stage whose dead letters have this code.</summary>
    public DeadLetterStage Stage { get; }

    /// <summary>The code whose <see cref="Label"/> is <paramref name="label"/>, or null when there is none.</summary>
    public static DeadLetterCode? FromLabel(string? label)
    {
        foreach (var code in All)
        {
            if (string.Equals(code.Label, label, StringComparison.Ordinal))
            {
                return code;
            }
        }

        return null;
    }

    /// <inheritdoc />
    public override string ToString() => Label;
}
