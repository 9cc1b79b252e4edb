namespace Kommune.Connectors.Codecs;

/// <summary>Why a decoder refused a record: the kind of refusal, chosen where it is found, and one line for people.</summary>
/// <param name="Code">What kind of refusal it is (the dead letter's code and metric label).</param>
/// <param name="Text">One line saying what was wrong (the dead letter's reason header).</param>
/// <remarks>A decoder that succeeded leaves the <c>default</c> value, whose members are null.</remarks>
public readonly record struct DecodeFailure(DeadLetterCode Code, string Text);
