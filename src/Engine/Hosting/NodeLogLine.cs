using System.Globalization;
using System.Text.Json;

namespace Kommune.Engine.Hosting;

/// <summary>
/// One line an engine node (<c>kommune run --log-format json</c>) printed, read for the demo: what to show of it
/// (<see cref="Text"/>; null: nothing) and, for a change of its partitions (tasks), which ones and whether they were
/// taken (<see cref="Taken"/>) or handed over or lost.
/// </summary>
/// <param name="Text">What the demo prints after the node's name, or null when the line is not worth a demo's line.</param>
/// <param name="Partitions">The partitions the line says the node took or gave, or null when it says nothing of that.</param>
/// <param name="Taken">Whether <paramref name="Partitions"/> were taken (else handed over or lost).</param>
internal sealed record NodeLogLine(string? Text, IReadOnlyList<int>? Partitions = null, bool Taken = false)
{
    private const string Engine = "Kommune.Engine.KommuneEngine";
    private static readonly string Restorer = typeof(Kommune.Connectors.Kafka.KafkaStateRestorer).FullName!;

    /// <summary>A line not worth showing.</summary>
    private static readonly NodeLogLine Nothing = new(Text: null);

    /// <summary>The information lines worth showing, by category and event id; warnings and errors are all shown.</summary>
    private static readonly HashSet<(string Category, int EventId)> Shown =
    [
        ("Kommune.Engine.Hosting.EngineHttpEndpoint", 3501), // metrics address
        (Restorer, 3101), // state restored with partitions taken
        (Engine, 3010), // stopping
        (Engine, 3002), // stopped
        ("Kommune.Engine.Hosting.InputClosedStop", 3601),
    ];

    /// <summary>Reads one line; a line that is not one of the node's JSON log lines (a crash's trace) is shown as it is.</summary>
    public static NodeLogLine Read(string line)
    {
        if (!line.StartsWith('{'))
        {
            return line.Length == 0 ? Nothing : new(line);
        }

        try
        {
            using var json = JsonDocument.Parse(line);
            var root = json.RootElement;
            var category = StringOf(root, "Category");
            var eventId = root.TryGetProperty("EventId", out var id) && id.ValueKind == JsonValueKind.Number ? id.GetInt32() : 0;
            var level = StringOf(root, "LogLevel");
            var message = StringOf(root, "Message");
            var state = root.TryGetProperty("State", out var s) ? s : default;
            if (category == Engine && eventId == 3013)
            {
                // A cooperative rebalance that gives a node nothing new still says so, with no partitions: not news.
                var partitions = PartitionsOf(state);
                var what = StringOf(state, "What");
                return partitions.Count == 0 ? Nothing : new($"partitions {string.Join(", ", partitions)} {what}", partitions, what == "taken");
            }

            if (category == Restorer && eventId == 3101 && PartitionsOf(state).Count == 0)
            {
                return Nothing;
            }

            if (level is "Warning" or "Error" or "Critical")
            {
                var exception = StringOf(root, "Exception") is { Length: > 0 } e ? $" ({e.Split('\n')[0].Trim()})" : "";
                return new($"{Abbreviation(level)}: {message}{exception}");
            }

            return Shown.Contains((category, eventId)) ? new(message) : Nothing;
        }
        catch (Exception e) when (e is JsonException or FormatException or OverflowException or InvalidOperationException)
        {
            return new(line);
        }
    }

    private static string StringOf(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString()! : "";

    private static List<int> PartitionsOf(JsonElement state) =>
        [.. StringOf(state, "Partitions").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(p => int.Parse(p, CultureInfo.InvariantCulture))];

    /// <summary>The console logger's abbreviations, as the demo's own log lines have them.</summary>
    private static string Abbreviation(string level) => level switch
    {
        "Warning" => "warn",
        "Error" => "fail",
        _ => "crit",
    };
}
