namespace Kommune.Rules.Runtime;

/// <summary>
/// Told how long each rule's handler took (one event, fact, command or timer), for a host's metrics. Called on the
/// key's thread after every handler, so it must be cheap and must not throw.
/// </summary>
internal interface IRuleTimings
{
    /// <summary>A handler of <paramref name="binding"/> ran for <paramref name="elapsedTicks"/> (<see cref="System.Diagnostics.Stopwatch"/> ticks).</summary>
    void Evaluated(RuleBinding binding, long elapsedTicks);
}
