namespace Kommune.Connectors.Codecs;

/// <summary>
/// Where a dead letter was made: one of a fixed few, each with the text it has in the
/// <see cref="DeadLetterHeaders.Stage"/> header and the <c>stage</c> label of <c>kommune_dead_letters_total</c>.
/// </summary>
public sealed class DeadLetterStage
{
    private DeadLetterStage(string label) => Label = label;

    /// <summary>Bad input: a record the engine could not decode (sensor events, and records of the repartition topic).</summary>
    public static DeadLetterStage Decode { get; } = new("decode");

    /// <summary>A valid event further behind the watermark than the allowed lateness.</summary>
    public static DeadLetterStage Late { get; } = new("late");

    /// <summary>A rule threw while handling a valid event.</summary>
    public static DeadLetterStage Rule { get; } = new("rule");

    /// <summary>An operations centre's command that could not be applied.</summary>
    public static DeadLetterStage Command { get; } = new("command");

    /// <summary>An alert or aggregate the broker refused for good, dead-lettered in its place.</summary>
    public static DeadLetterStage Output { get; } = new("output");

    /// <summary>Every stage.</summary>
    public static IReadOnlyList<DeadLetterStage> All { get; } = [Decode, Late, Rule, Command, Output];

    /// <summary>The stage's text in the header and the metric label: <c>decode</c>, <c>late</c>, <c>rule</c>, <c>command</c> or <c>output</c>.</summary>
    public string Label { get; }

    /// <inheritdoc />
    public override string ToString() => Label;
}
