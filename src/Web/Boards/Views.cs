using System.Text.Json;
using System.Text.Json.Serialization;
using Kommune.Rules.Model;

namespace Kommune.Web.Boards;

/// <summary>An alert as the operators' page shows it: its latest record, when it was raised and the last command about it.</summary>
internal sealed record AlertView(
    string Id,
    int Sequence,
    string Rule,
    string Category,
    string SubCategory,
    string Severity,
    string Status,
    int Level,
    string? SensorId,
    string AreaId,
    DateTimeOffset RaisedAt,
    DateTimeOffset ChangedAt,
    string Description,
    IReadOnlyList<string> Recipients,
    IReadOnlyDictionary<string, object> Evidence,
    TimelineEntry? LastCommand)
{
    public static AlertView Of(Alert alert, DateTimeOffset raisedAt, TimelineEntry? lastCommand) => new(
        alert.AlertId,
        alert.Sequence,
        alert.Rule,
        alert.Category,
        alert.SubCategory,
        Lower(alert.Severity),
        Lower(alert.Status),
        alert.Level,
        alert.SensorId,
        alert.AreaId,
        raisedAt,
        alert.DateIssued,
        alert.Description,
        alert.Recipients,
        alert.Evidence.ToDictionary(e => e.Key, e => Value(e.Value), StringComparer.Ordinal),
        lastCommand);

    private static string Lower<T>(T value)
        where T : struct, Enum => value.ToString().ToLowerInvariant();

    private static object Value(SensorValue value) => value.Kind switch
    {
        SensorValueKind.Number => value.Number,
        SensorValueKind.Boolean => value.Boolean,
        _ => value.Text!,
    };
}

/// <summary>
/// One line of an alert's timeline: a state change the engine wrote (<c>record</c>), a command an operator sent
/// (<c>command</c>), or a command the engine refused (<c>refused</c>). <see cref="At"/> is the Kafka record's time.
/// </summary>
internal sealed record TimelineEntry(
    string Kind,
    DateTimeOffset At,
    string? Status,
    int? Level,
    string? By,
    string? Action,
    string? Description,
    int? Sequence);

/// <summary>An alert's details: its view, the whole timeline (oldest first) and the records' event times.</summary>
internal sealed record AlertDetails(AlertView Alert, IReadOnlyList<TimelineEntry> Timeline, DateTimeOffset EventTime);

/// <summary>One point of an area's metric: the window's start and end, the value and how many inputs made it.</summary>
internal sealed record MetricPoint(DateTimeOffset Start, DateTimeOffset End, double Value, long Count);

/// <summary>One aggregate as pushed to the page.</summary>
internal sealed record AggregateView(string AreaId, string Metric, MetricPoint Point);

/// <summary>An area's metric series, oldest first.</summary>
internal sealed record AreaView(string AreaId, IReadOnlyDictionary<string, IReadOnlyList<MetricPoint>> Metrics);

/// <summary>A dead letter as the page lists it: the key and value shown as text, cut short.</summary>
internal sealed record DeadLetterView(
    DateTimeOffset At,
    string Stage,
    string Code,
    string Reason,
    string? SourceTopic,
    string? SourcePartition,
    string? SourceOffset,
    string? Key,
    string? Value);

/// <summary>Dead letters counted by stage and reason code, and the latest few.</summary>
internal sealed record DeadLetterSummary(long Total, IReadOnlyList<DeadLetterCount> Counts, IReadOnlyList<DeadLetterView> Latest);

/// <summary>How many dead letters one stage and reason code has had.</summary>
internal sealed record DeadLetterCount(string Stage, string Code, long Count);

/// <summary>Whether the console has read its topics to the end they had at start, and when each last had a record.</summary>
internal sealed record FeedStatus(bool CaughtUp, IReadOnlyDictionary<string, DateTimeOffset> LastRecords, long UnreadableRecords);

/// <summary>Everything the operators' page needs when it connects.</summary>
internal sealed record Snapshot(IReadOnlyList<AlertView> Alerts, IReadOnlyList<AreaView> Areas, DeadLetterSummary DeadLetters, FeedStatus Status);

/// <summary>The JSON settings of everything the console sends.</summary>
internal static class ConsoleJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}
