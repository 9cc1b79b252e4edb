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

    /// <summary>
    /// The generic-series parameters: the best set of the <see cref="Default"/> grid on all 31 series (reported with
    /// leave-one-kind-out validation beside it, docs/detection.md). The rule's defaults stay those for building meters.
    /// </summary>
    public const string Generic = """{ "nightHours": "none", "threshold": 2, "smoothing": 0.4, "quietAfter": "12h", "calibratedRate": 0.005, "rangeTolerance": 0.05, "minConsecutive": 1, "scoreClip": 4, "maxCalibration": 4 }""";

    /// <summary>The rule's parameters with only <see cref="Base"/>: the rule's defaults.</summary>
    public static string Defaults => "{ " + Base + " }";

    /// <summary>
    /// Every combination of the values given per parameter, as JSON such as <c>{"threshold": [3, 4], "quietAfter": ["0s", "1d"]}</c>.
    /// </summary>
    public static IReadOnlyList<string> Product(string gridJson)
    {
        using var grid = System.Text.Json.JsonDocument.Parse(gridJson);
        IEnumerable<string> sets = [Base];
        foreach (var parameter in grid.RootElement.EnumerateObject())
        {
            var values = parameter.Value.EnumerateArray().Select(v => $"\"{parameter.Name}\": {v.GetRawText()}").ToList();
            sets = [.. sets.SelectMany(s => values.Select(v => s + ", " + v))];
        }

        return [.. sets.Select(s => "{ " + s + " }")];
    }

    /// <summary>
    /// The grid leave-one-kind-out validation chooses from: 162 global sets around the generic-series parameters
    /// (<see cref="Generic"/>): threshold, smoothing, quiet period, calibrated rate and range tolerance, the rest fixed.
    /// </summary>
    public const string Default = """
        { "threshold": [1.75, 2, 2.5], "smoothing": [0.3, 0.4, 0.5], "quietAfter": ["6h", "12h", "1d"], "calibratedRate": [0.005, 0.01],
          "rangeTolerance": [0.02, 0.05, 0.1], "minConsecutive": [1], "scoreClip": [4], "maxCalibration": [4] }
        """;

    /// <summary>Every set of the <see cref="Default"/> grid, as rule parameters (JSON).</summary>
    public static IReadOnlyList<string> Sets() => Product(Default);
}
