namespace Kommune.Connectors.Codecs;

/// <summary>
/// A dead letter's reason as one of a few fixed codes, for metric labels: the reason text names fields, values and
/// ids, so it cannot be a label (its values are unbounded), but what kind of refusal it was can.
/// </summary>
public static class DeadLetterReasons
{
    /// <summary>Every code <see cref="Code"/> returns.</summary>
    public static IReadOnlyList<string> All { get; } =
    [
        "null_value", "too_large", "malformed_json", "not_an_object", "missing_field", "wrong_type", "bad_id",
        "bad_timestamp", "future_timestamp", "too_old_timestamp", "not_finite", "nested_value", "key_mismatch",
        "late", "rule_failed", "command_refused", "output_refused", "other",
    ];

    /// <summary>The code of a dead letter's stage and reason (docs/events.md lists the reasons).</summary>
    public static string Code(string stage, string reason)
    {
        ArgumentNullException.ThrowIfNull(stage);
        ArgumentNullException.ThrowIfNull(reason);
        return stage switch
        {
            "late" => "late",
            "rule" => "rule_failed",
            "command" => "command_refused",
            "output" => "output_refused",
            _ => DecodeCode(reason),
        };
    }

    private static string DecodeCode(string reason)
    {
        if (reason.StartsWith("record value is null", StringComparison.Ordinal))
        {
            return "null_value";
        }

        if (reason.StartsWith("record value is not a JSON object", StringComparison.Ordinal))
        {
            return "not_an_object";
        }

        if (reason.StartsWith("record value is ", StringComparison.Ordinal) && reason.Contains("over the limit", StringComparison.Ordinal))
        {
            return "too_large";
        }

        if (reason.StartsWith("malformed JSON", StringComparison.Ordinal))
        {
            return "malformed_json";
        }

        if (reason.StartsWith("missing field", StringComparison.Ordinal))
        {
            return "missing_field";
        }

        if (reason.StartsWith("record key", StringComparison.Ordinal))
        {
            return "key_mismatch";
        }

        if (reason.StartsWith("field 'ts'", StringComparison.Ordinal))
        {
            return reason.Contains("before the earliest accepted event time", StringComparison.Ordinal) ? "too_old_timestamp"
                : reason.Contains("after the engine's clock", StringComparison.Ordinal) ? "future_timestamp"
                : "bad_timestamp";
        }

        if (reason.StartsWith("field '", StringComparison.Ordinal))
        {
            return reason.Contains(" must be ", StringComparison.Ordinal) ? "wrong_type" : "bad_id";
        }

        if (reason.StartsWith("value '", StringComparison.Ordinal))
        {
            return reason.Contains("not a finite number", StringComparison.Ordinal) ? "not_finite" : "nested_value";
        }

        return "other";
    }
}
