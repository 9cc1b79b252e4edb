using Kommune.Rules.Model;

namespace Kommune.Web.Boards;

/// <summary>
/// The alerts as read from the alerts topic: the latest record per alertId (a record whose sequence is not newer
/// is a repeat after an engine restart and is ignored), the commands operators sent and those the engine refused.
/// Resolved alerts leave the open set; the newest of them are kept for their details. Not thread-safe: its owner
/// (<see cref="ConsoleBoard"/>) serializes access.
/// </summary>
internal sealed class AlertBook(int resolvedKept)
{
    private const int MaxCommandEntriesPerAlert = 50;
    private readonly Dictionary<string, Entry> _alerts = new(StringComparer.Ordinal);
    private readonly Queue<string> _resolvedOrder = new();
    private readonly Dictionary<string, int> _forgottenSequences = new(StringComparer.Ordinal);
    private readonly Queue<string> _forgottenOrder = new();
    private readonly Dictionary<string, List<TimelineEntry>> _commands = new(StringComparer.Ordinal);
    private readonly Queue<string> _commandOrder = new();

    /// <summary>Open alerts (raised, escalated or acknowledged).</summary>
    public int OpenCount { get; private set; }

    /// <summary>Applies one alert record; returns its view when it changed the alert, null for a repeat.</summary>
    public AlertView? Apply(Alert alert, DateTimeOffset at)
    {
        if (_alerts.TryGetValue(alert.AlertId, out var entry))
        {
            if (alert.Sequence <= entry.Latest.Sequence)
            {
                return null;
            }

            if (entry.Latest.Status == AlertStatus.Resolved)
            {
                // Only a repeat can follow a resolve (ids are not reused); a newer sequence would be an engine bug: show it.
                OpenCount++;
            }
        }
        else
        {
            if (_forgottenSequences.TryGetValue(alert.AlertId, out var forgotten) && alert.Sequence <= forgotten)
            {
                return null;
            }

            entry = new Entry(alert.DateIssued);
            _alerts[alert.AlertId] = entry;
            OpenCount++;
        }

        entry.Latest = alert;
        entry.Records.Add(new TimelineEntry("record", at, Lower(alert.Status), alert.Level, ActorOf(alert), null, alert.Description, alert.Sequence));
        if (alert.Status == AlertStatus.Resolved)
        {
            OpenCount--;
            _resolvedOrder.Enqueue(alert.AlertId);
            ForgetOldResolved();
        }

        return View(alert.AlertId, entry);
    }

    /// <summary>Notes a command from the acks topic; returns the alert's new view when the alert is known.</summary>
    public AlertView? ApplyCommand(AlertCommand command, DateTimeOffset at) =>
        AddCommandEntry(command.AlertId, new TimelineEntry("command", at, null, null, command.By, ActionName(command.Action), null, null));

    /// <summary>Notes that the engine refused a command (a dead letter of stage <c>command</c>).</summary>
    public AlertView? ApplyRefusal(string alertId, AlertCommand? command, string reason, DateTimeOffset at) =>
        AddCommandEntry(alertId, new TimelineEntry("refused", at, null, null, command?.By, command is null ? null : ActionName(command.Action), reason, null));

    /// <summary>The open alerts.</summary>
    public List<AlertView> Open() =>
        [.. _alerts.Where(a => a.Value.Latest.Status != AlertStatus.Resolved).Select(a => View(a.Key, a.Value))];

    /// <summary>The open alerts' latest records.</summary>
    public IEnumerable<Alert> OpenRecords() =>
        _alerts.Values.Select(e => e.Latest).Where(a => a.Status != AlertStatus.Resolved);

    /// <summary>One alert's details with its timeline, or null when it is not known (or long resolved).</summary>
    public AlertDetails? Details(string alertId)
    {
        if (!_alerts.TryGetValue(alertId, out var entry))
        {
            return null;
        }

        var timeline = entry.Records.Concat(_commands.GetValueOrDefault(alertId) ?? []).OrderBy(e => e.At).ThenBy(e => e.Sequence ?? int.MaxValue).ToList();
        return new AlertDetails(View(alertId, entry), WithActors(timeline), entry.Latest.EventTime);
    }

    /// <summary>Whether the alert is known and not resolved.</summary>
    public bool IsOpen(string alertId) => _alerts.TryGetValue(alertId, out var entry) && entry.Latest.Status != AlertStatus.Resolved;

    private AlertView? AddCommandEntry(string alertId, TimelineEntry entry)
    {
        if (!_commands.TryGetValue(alertId, out var list))
        {
            list = [];
            _commands[alertId] = list;
            _commandOrder.Enqueue(alertId);
            // Commands are kept for about as many alerts as are kept, open or recently resolved.
            while (_commandOrder.Count > Math.Max(_alerts.Count, resolvedKept) * 2 && _commandOrder.TryDequeue(out var oldest))
            {
                if (!_alerts.ContainsKey(oldest))
                {
                    _commands.Remove(oldest);
                }
                else
                {
                    _commandOrder.Enqueue(oldest);
                    break;
                }
            }
        }

        if (list.Count >= MaxCommandEntriesPerAlert)
        {
            list.RemoveAt(0);
        }

        list.Add(entry);
        return _alerts.TryGetValue(alertId, out var alert) ? View(alertId, alert) : null;
    }

    private void ForgetOldResolved()
    {
        while (_resolvedOrder.Count > resolvedKept && _resolvedOrder.TryDequeue(out var id))
        {
            if (_alerts.Remove(id, out var entry))
            {
                _commands.Remove(id);
                // Remember the last sequence a while longer, so a late repeat does not bring it back as open.
                _forgottenSequences[id] = entry.Latest.Sequence;
                _forgottenOrder.Enqueue(id);
                while (_forgottenOrder.Count > resolvedKept * 50 && _forgottenOrder.TryDequeue(out var oldest))
                {
                    _forgottenSequences.Remove(oldest);
                }
            }
        }
    }

    private AlertView View(string alertId, Entry entry) =>
        AlertView.Of(entry.Latest, entry.RaisedAt, _commands.TryGetValue(alertId, out var commands) && commands.Count > 0 ? commands[^1] : null);

    /// <summary>
    /// Names who made each acknowledgement and resolve: the operator whose command of that action came last before it,
    /// or the engine (a rule that resolved by itself, a resident's OK).
    /// </summary>
    private static List<TimelineEntry> WithActors(List<TimelineEntry> timeline)
    {
        string? lastAck = null, lastResolve = null;
        for (var i = 0; i < timeline.Count; i++)
        {
            var entry = timeline[i];
            if (entry.Kind == "command")
            {
                (lastAck, lastResolve) = entry.Action == "ack" ? (entry.By, lastResolve) : (lastAck, entry.By);
            }
            else if (entry.Kind == "record" && entry.By is null)
            {
                var by = entry.Status == "acknowledged" ? lastAck : lastResolve;
                timeline[i] = entry with { By = by ?? "engine" };
            }
        }

        return timeline;
    }

    /// <summary>The engine raises and escalates; who acknowledged or resolved is found from the commands (<see cref="WithActors"/>).</summary>
    private static string? ActorOf(Alert alert) => alert.Status is AlertStatus.Acknowledged or AlertStatus.Resolved ? null : "engine";

    private static string ActionName(AlertAction action) => action == AlertAction.Ack ? "ack" : "resolve";

    private static string Lower(AlertStatus status) => status.ToString().ToLowerInvariant();

    private sealed class Entry(DateTimeOffset raisedAt)
    {
        public DateTimeOffset RaisedAt { get; } = raisedAt;

        public Alert Latest { get; set; } = null!;

        public List<TimelineEntry> Records { get; } = [];
    }
}
