namespace Kommune.Engine.Plugins;

/// <summary>
/// A rules file is wrong. The message lists every error, one per line, each naming the file, the rule and the
/// field; the engine keeps running the rules it had.
/// </summary>
public sealed class RulesFileException : Exception
{
    /// <summary>An exception listing <paramref name="errors"/>.</summary>
    public RulesFileException(IReadOnlyList<string> errors)
        : base(string.Join('\n', errors ?? throw new ArgumentNullException(nameof(errors))))
    {
        Errors = [.. errors];
    }

    /// <summary>An exception with no error listed.</summary>
    public RulesFileException()
        : this([])
    {
    }

    /// <summary>An exception with one error.</summary>
    public RulesFileException(string message)
        : this([message])
    {
    }

    /// <summary>An exception with one error and its cause.</summary>
    public RulesFileException(string message, Exception innerException)
        : base(message, innerException)
    {
        Errors = [message];
    }

    /// <summary>Every error, each naming the file, the rule and the field.</summary>
    public IReadOnlyList<string> Errors { get; }
}
