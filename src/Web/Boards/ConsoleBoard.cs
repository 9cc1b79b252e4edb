using System.Text.Json;
using System.Threading.Channels;
using Kommune.Rules.Model;

namespace Kommune.Web.Boards;

/// <summary>One event for the operators' pages: its name and its JSON, serialized once for every subscriber.</summary>
internal sealed record ServerEvent(string Name, string Data);

/// <summary>
/// What the console knows, built from the topics (alerts, aggregates, dead letters, commands), behind one lock, and
/// the pages subscribed to its changes. A subscriber gets a snapshot and, from the same instant, every change, so
/// nothing falls between the two. A subscriber that does not keep up is dropped (its page reconnects and gets a
/// fresh snapshot) rather than holding memory or slowing the others.
/// </summary>
internal sealed class ConsoleBoard
{
    /// <summary>Changes a subscriber may have waiting before it is dropped.</summary>
    public const int SubscriberBacklog = 20_000;

    private readonly Lock _gate = new();
    private readonly AlertBook _alerts;
    private readonly AreaBook _areas = new();
    private readonly DeadLetterBook _deadLetters = new();
    private readonly List<ChannelWriter<ServerEvent>> _subscribers = [];
    private FeedStatus _status = new(false, new Dictionary<string, DateTimeOffset>(), 0);
    private bool _deadLettersChanged;

    public ConsoleBoard(int resolvedAlertsKept = 1_000)
    {
        _alerts = new AlertBook(resolvedAlertsKept);
    }

    /// <summary>Pages connected now.</summary>
    public int Subscribers
    {
        get
        {
            lock (_gate)
            {
                return _subscribers.Count;
            }
        }
    }

    public void ApplyAlert(Alert alert, DateTimeOffset at)
    {
        lock (_gate)
        {
            if (_alerts.Apply(alert, at) is { } view)
            {
                Publish("alert", view);
            }
        }
    }

    public void ApplyCommand(AlertCommand command, DateTimeOffset at)
    {
        lock (_gate)
        {
            if (_alerts.ApplyCommand(command, at) is { } view)
            {
                Publish("alert", view);
            }
        }
    }

    public void ApplyAggregate(Aggregate aggregate)
    {
        lock (_gate)
        {
            Publish("aggregate", _areas.Apply(aggregate));
        }
    }

    /// <summary>Applies a dead letter (its code from its code header, null when it has none); one of a refused command also goes to its alert's timeline.</summary>
    public void ApplyDeadLetter(string stage, string? code, string reason, string? sourceTopic, string? sourcePartition, string? sourceOffset, byte[]? key, byte[]? value, DateTimeOffset at, AlertCommand? refusedCommand, string? refusedAlertId)
    {
        lock (_gate)
        {
            _deadLetters.Apply(stage, code, reason, sourceTopic, sourcePartition, sourceOffset, key, value, at);
            _deadLettersChanged = true;
            if (refusedAlertId is not null && _alerts.ApplyRefusal(refusedAlertId, refusedCommand, reason, at) is { } view)
            {
                Publish("alert", view);
            }
        }
    }

    /// <summary>Sends the dead-letter summary if it changed since the last call (called about once a second: many dead letters are one update).</summary>
    public void PublishDeadLettersIfChanged()
    {
        lock (_gate)
        {
            if (_deadLettersChanged)
            {
                _deadLettersChanged = false;
                Publish("deadletters", _deadLetters.Summary());
            }
        }
    }

    public void SetStatus(FeedStatus status)
    {
        lock (_gate)
        {
            _status = status;
            Publish("status", status);
        }
    }

    public AlertDetails? Details(string alertId)
    {
        lock (_gate)
        {
            return _alerts.Details(alertId);
        }
    }

    public bool IsOpen(string alertId)
    {
        lock (_gate)
        {
            return _alerts.IsOpen(alertId);
        }
    }

    public FeedStatus Status
    {
        get
        {
            lock (_gate)
            {
                return _status;
            }
        }
    }

    /// <summary>Reads the alerts and areas under the lock (for the citizens' view, which takes only what it may show).</summary>
    public T Read<T>(Func<IEnumerable<Alert>, AreaBook, T> read)
    {
        ArgumentNullException.ThrowIfNull(read);
        lock (_gate)
        {
            return read(_alerts.OpenRecords(), _areas);
        }
    }

    /// <summary>A snapshot and, from the same instant, the changes; dispose the subscription to stop them.</summary>
    public Subscription Subscribe()
    {
        var channel = Channel.CreateBounded<ServerEvent>(new BoundedChannelOptions(SubscriberBacklog) { SingleReader = true, SingleWriter = true });
        lock (_gate)
        {
            var snapshot = new Snapshot(_alerts.Open(), _areas.Areas(), _deadLetters.Summary(), _status);
            _subscribers.Add(channel.Writer);
            return new Subscription(this, new ServerEvent("snapshot", JsonSerializer.Serialize(snapshot, ConsoleJson.Options)), channel);
        }
    }

    private void Unsubscribe(ChannelWriter<ServerEvent> writer)
    {
        lock (_gate)
        {
            _subscribers.Remove(writer);
        }

        writer.TryComplete();
    }

    private void Publish<T>(string name, T payload)
    {
        if (_subscribers.Count == 0)
        {
            return;
        }

        var message = new ServerEvent(name, JsonSerializer.Serialize(payload, ConsoleJson.Options));
        for (var i = _subscribers.Count - 1; i >= 0; i--)
        {
            if (!_subscribers[i].TryWrite(message))
            {
                _subscribers[i].TryComplete(new InvalidOperationException("The page did not keep up with the changes"));
                _subscribers.RemoveAt(i);
            }
        }
    }

    /// <summary>One page's subscription: the snapshot first, then the changes.</summary>
    internal sealed class Subscription(ConsoleBoard board, ServerEvent snapshot, Channel<ServerEvent> channel) : IDisposable
    {
        public ServerEvent Snapshot { get; } = snapshot;

        public ChannelReader<ServerEvent> Changes => channel.Reader;

        public void Dispose() => board.Unsubscribe(channel.Writer);
    }
}
