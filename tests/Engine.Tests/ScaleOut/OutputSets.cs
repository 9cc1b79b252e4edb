using System.Text.Json;

namespace Kommune.Engine.Tests.ScaleOut;

/// <summary>
/// What a run wrote, as sets: its alert records and aggregates, each distinct record once (a record written again after
/// a crash is byte-identical, so it counts once), and every (alertId, sequence) that has two different records.
/// </summary>
internal sealed class OutputSets
{
    public OutputSets(IEnumerable<string> alerts, IEnumerable<string> aggregates, IEnumerable<string> deadLetters)
    {
        Alerts = [.. alerts];
        Aggregates = [.. aggregates];
        DeadLetters = [.. deadLetters];
        Conflicts = [.. Alerts.GroupBy(Pair).Where(g => g.Count() > 1).Select(g => $"{g.Key}: {string.Join(" | ", g)}")];
    }

    public HashSet<string> Alerts { get; }

    public HashSet<string> Aggregates { get; }

    public List<string> DeadLetters { get; }

    /// <summary>(alertId, sequence) pairs with more than one distinct record.</summary>
    public List<string> Conflicts { get; }

    public static string Pair(string alert)
    {
        using var json = JsonDocument.Parse(alert);
        return $"{json.RootElement.GetProperty("alertId").GetString()}#{json.RootElement.GetProperty("sequence").GetInt32()}";
    }

    private IEnumerable<string> OfSameAlert(string alert)
    {
        var id = Pair(alert).Split('#')[0];
        return Alerts.Where(a => Pair(a).StartsWith(id + "#", StringComparison.Ordinal));
    }

    public static string Rule(string alert)
    {
        using var json = JsonDocument.Parse(alert);
        return json.RootElement.GetProperty("rule").GetString()!;
    }

    /// <summary>Asserts this run wrote exactly what <paramref name="reference"/> wrote, naming the first differences.</summary>
    public void AssertSameAs(OutputSets reference, string what)
    {
        Assert.True(Conflicts.Count == 0, $"{what}: {Conflicts.Count} (alertId, sequence) pairs with different records, e.g. {string.Join("\n", Conflicts.Take(3))}");
        var missingAlerts = reference.Alerts.Except(Alerts).ToList();
        var extraAlerts = Alerts.Except(reference.Alerts).ToList();
        Assert.True(missingAlerts.Count == 0 && extraAlerts.Count == 0,
            $"{what}: alerts differ from the one-node run ({reference.Alerts.Count}; {DeadLetters.Count} dead letters): {missingAlerts.Count} missing, e.g. {string.Join("\n", missingAlerts.Take(3))}; "
            + $"{extraAlerts.Count} extra, e.g. {string.Join("\n", extraAlerts.Take(3))}; what the run has of the first missing alert: {string.Join("\n", missingAlerts.Take(1).SelectMany(OfSameAlert))}");
        var missing = reference.Aggregates.Except(Aggregates).ToList();
        var extra = Aggregates.Except(reference.Aggregates).ToList();
        Assert.True(missing.Count == 0 && extra.Count == 0,
            $"{what}: aggregates differ from the one-node run ({reference.Aggregates.Count}): {missing.Count} missing, e.g. {string.Join("\n", missing.Take(3))}; {extra.Count} extra, e.g. {string.Join("\n", extra.Take(3))}");
    }
}
