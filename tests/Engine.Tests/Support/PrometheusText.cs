using System.Globalization;
using System.Text.RegularExpressions;

namespace Kommune.Engine.Tests.Support;

/// <summary>The samples of a Prometheus text-format scrape: enough to check values by name and labels.</summary>
internal sealed partial class PrometheusText
{
    private readonly List<(string Name, Dictionary<string, string> Labels, double Value)> _samples = [];

    public PrometheusText(string text)
    {
        Text = text;
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                Families.Add(line.Split(' ')[2]);
                continue;
            }

            var match = Sample().Match(line);
            if (!match.Success)
            {
                continue;
            }

            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (Match label in Label().Matches(match.Groups["labels"].Value))
            {
                labels[label.Groups["name"].Value] = label.Groups["value"].Value;
            }

            _samples.Add((match.Groups["name"].Value, labels, double.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture)));
        }
    }

    public string Text { get; }

    /// <summary>The metric families (names in TYPE lines).</summary>
    public HashSet<string> Families { get; } = new(StringComparer.Ordinal);

    /// <summary>The sum over the samples of <paramref name="name"/> whose labels include <paramref name="labels"/> (name=value pairs).</summary>
    public double Sum(string name, params (string Name, string Value)[] labels) =>
        _samples.Where(s => s.Name == name && labels.All(l => s.Labels.GetValueOrDefault(l.Name) == l.Value)).Sum(s => s.Value);

    /// <summary>Each sample of <paramref name="name"/> as its labels and value.</summary>
    public IEnumerable<(Dictionary<string, string> Labels, double Value)> Samples(string name) =>
        _samples.Where(s => s.Name == name).Select(s => (s.Labels, s.Value));

    [GeneratedRegex("""^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})? (?<value>\S+)$""")]
    private static partial Regex Sample();

    [GeneratedRegex("""(?<name>[a-zA-Z_][a-zA-Z0-9_]*)="(?<value>(\\.|[^"\\])*)""" + "\"")]
    private static partial Regex Label();
}
