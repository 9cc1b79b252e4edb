using Kommune.Rules.Model;
using Kommune.Web.Boards;

namespace Kommune.Web.Tests;

/// <summary>The console's view of the alerts topic: the latest record per alert, timelines, and what a repeat does.</summary>
public sealed class AlertBookTests
{
    private static readonly DateTimeOffset T0 = DateTimeOffset.Parse("2026-11-26T07:41:03Z", System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void The_latest_record_per_alert_is_its_state_and_a_record_written_again_after_an_engine_restart_changes_nothing()
    {
        var book = new AlertBook(resolvedKept: 10);
        Assert.NotNull(book.Apply(Record("a", 1, AlertStatus.Raised, 1), T0));
        Assert.NotNull(book.Apply(Record("a", 2, AlertStatus.Escalated, 2), T0.AddSeconds(60)));

        Assert.Null(book.Apply(Record("a", 1, AlertStatus.Raised, 1), T0.AddSeconds(61)));
        Assert.Null(book.Apply(Record("a", 2, AlertStatus.Escalated, 2), T0.AddSeconds(61)));

        var open = Assert.Single(book.Open());
        Assert.Equal(("escalated", 2, 2), (open.Status, open.Level, open.Sequence));
        Assert.Equal(T0.AddSeconds(1), open.RaisedAt); // the first record's dateIssued
        Assert.Equal(2, book.Details("a")!.Timeline.Count);
    }

    [Fact]
    public void A_resolved_alert_leaves_the_open_set_keeps_its_details_a_while_and_a_late_repeat_does_not_reopen_it()
    {
        var book = new AlertBook(resolvedKept: 1);
        book.Apply(Record("a", 1, AlertStatus.Raised, 1), T0);
        book.Apply(Record("a", 2, AlertStatus.Resolved, 1), T0.AddSeconds(5));
        Assert.Empty(book.Open());
        Assert.Equal(0, book.OpenCount);
        Assert.NotNull(book.Details("a"));

        // A second resolved alert pushes the first out of the kept ones; its repeat is still recognised.
        book.Apply(Record("b", 1, AlertStatus.Raised, 1), T0);
        book.Apply(Record("b", 2, AlertStatus.Resolved, 1), T0.AddSeconds(5));
        Assert.Null(book.Details("a"));
        Assert.Null(book.Apply(Record("a", 1, AlertStatus.Raised, 1), T0.AddSeconds(9)));
        Assert.Empty(book.Open());
    }

    [Fact]
    public void The_timeline_has_the_commands_even_read_before_their_alert_and_names_who_acknowledged_and_who_resolved()
    {
        var book = new AlertBook(resolvedKept: 10);
        book.ApplyCommand(new AlertCommand("a", AlertAction.Ack, "nurse Kari", T0.AddSeconds(9)), T0.AddSeconds(9));
        book.Apply(Record("a", 1, AlertStatus.Raised, 1), T0);
        book.Apply(Record("a", 2, AlertStatus.Acknowledged, 1), T0.AddSeconds(10));
        var refused = book.ApplyRefusal("a", new AlertCommand("a", AlertAction.Ack, "nurse Per", T0.AddSeconds(11)), "no open alert 'a'", T0.AddSeconds(11));
        book.Apply(Record("a", 3, AlertStatus.Resolved, 1), T0.AddSeconds(20));

        Assert.Equal("refused", refused!.LastCommand!.Kind);
        var timeline = book.Details("a")!.Timeline;
        Assert.Equal(["record", "command", "record", "refused", "record"], timeline.Select(t => t.Kind));
        Assert.Equal(["engine", "nurse Kari", "nurse Kari", "nurse Per", "engine"], timeline.Select(t => t.By));
    }

    [Fact]
    public void A_command_for_an_unknown_alert_changes_no_view()
    {
        var book = new AlertBook(resolvedKept: 10);
        Assert.Null(book.ApplyCommand(new AlertCommand("nobody", AlertAction.Ack, "x", T0), T0));
        Assert.False(book.IsOpen("nobody"));
    }

    internal static Alert Record(string id, int sequence, AlertStatus status, int level, string? sensorId = "w-1", string areaId = "sentrum", string category = "health", string subCategory = "fallenPatient") =>
        new(id, "fall-detection", category, subCategory, AlertSeverity.Critical, status, level, sensorId, areaId, T0, T0.AddSeconds(sequence), $"{status} {level}",
            new Dictionary<string, SensorValue> { ["confidence"] = 0.9 })
        {
            Sequence = sequence,
        };
}
