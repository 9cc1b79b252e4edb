using Kommune.Rules.Model;
using Kommune.Rules.Runtime;

namespace Kommune.Benchmarks;

/// <summary>Rule outputs that are only counted, so a benchmark measures the rule, not where its outputs go.</summary>
internal sealed class CountingOutputs : IRuleOutputs
{
    public long Alerts { get; private set; }

    public long Aggregates { get; private set; }

    public long Facts { get; private set; }

    public long Failures { get; private set; }

    public long Total => Alerts + Aggregates + Facts;

    public void Alert(Alert alert) => Alerts++;

    public void Aggregate(Aggregate aggregate) => Aggregates++;

    public void Fact(Fact fact) => Facts++;

    public void RuleFailed(string ruleName, string handler, Exception exception) => Failures++;
}
