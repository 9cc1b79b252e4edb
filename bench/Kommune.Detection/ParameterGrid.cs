using System.Globalization;

namespace Kommune.Detection;

/// <summary>
/// The small global grid of energy-anomaly parameters that leave-one-kind-out validation chooses from. Every set is
/// global: the same for every file of a run. Each adds to <see cref="Base"/>.
/// </summary>
public static class ParameterGrid
{
    /// <summary>What every run sets: no night watch (these series are not building consumption).</summary>
    public const string Base = "\"nightHours\": \"none\"";

    /// <summary>The rule's parameters with only <see cref="Base"/>: the rule's defaults.</summary>
    public static string Defaults => "{ " + Base + " }";

    /// <summary>Every set of the grid, as rule parameters (JSON).</summary>
    public static IReadOnlyList<string> Sets()
    {
        var sets = new List<string>();
        foreach (var threshold in new[] { 3.5, 4.0, 4.5, 5.0 })
        {
            foreach (var smoothing in new[] { 0.3, 0.4, 0.5 })
            {
                sets.Add(string.Create(CultureInfo.InvariantCulture, $"{{ {Base}, \"threshold\": {threshold}, \"smoothing\": {smoothing} }}"));
            }
        }

        return sets;
    }
}
