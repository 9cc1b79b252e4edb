using Kommune.Rules.Model;

namespace Kommune.Rules.Runtime;

/// <summary>Where a <see cref="KeyedRuleRunner"/> puts what its rules emit. Implemented by the engine and the test kit.</summary>
internal interface IRuleOutputs
{
    /// <summary>One alert state change.</summary>
    void Alert(Alert alert);

    /// <summary>One aggregate.</summary>
    void Aggregate(Aggregate aggregate);

    /// <summary>A fact for the area's area-scoped rules.</summary>
    void Fact(Fact fact);

    /// <summary>
    /// A fact for the area's area-scoped rules, saying whether a timer's handler sent it (else an event's or a fact's):
    /// the engine names what caused each fact so that one made again after a crash is applied once.
    /// </summary>
    void Fact(Fact fact, bool fromTimer) => Fact(fact);

    /// <summary>A rule threw; the runner went on with the other rules.</summary>
    /// <param name="ruleName">The binding that threw.</param>
    /// <param name="handler">Which handler: OnEvent, OnTimer or OnFact.</param>
    /// <param name="exception">What it threw.</param>
    void RuleFailed(string ruleName, string handler, Exception exception);

    /// <summary>
    /// A rule could not use its input as it is, or the runtime cut something short for it (<see cref="Api.IRuleContext.ReportProblem"/>).
    /// Ignored unless implemented.
    /// </summary>
    /// <param name="ruleName">The binding.</param>
    /// <param name="key">The sensor or area.</param>
    /// <param name="kind">A short fixed word (a metric label), such as <c>unusable-event</c> or <c>timer-limit</c>.</param>
    /// <param name="message">What happened, for the log.</param>
    void Problem(string ruleName, string key, string kind, string message)
    {
    }
}
