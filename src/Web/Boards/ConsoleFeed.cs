using System.Text;
using Kommune.Connectors.Codecs;
using Kommune.Connectors.Kafka;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kommune.Web.Boards;

/// <summary>
/// Feeds the <see cref="ConsoleBoard"/> from Kafka: reads the alerts, aggregates, dead-letter and acks topics from the
/// start, then follows them, and once a second publishes the dead-letter summary and the feed's status. A record it
/// cannot read is counted and logged (sampled), never fatal.
/// </summary>
internal sealed partial class ConsoleFeed(ConsoleBoard board, ConsoleKafka kafka, ILogger<ConsoleFeed> logger) : BackgroundService
{
    private KafkaTopicFollower? _follower;
    private long _unreadable;

    /// <summary>Completes once every topic was read to the end it had when the console started.</summary>
    public Task CaughtUp => _follower?.CaughtUp ?? Task.CompletedTask;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        var topics = kafka.Topics;
        _follower = new KafkaTopicFollower(kafka.BootstrapServers, kafka.ClientSettings, [topics.Alerts, topics.Aggregates, topics.DeadLetters, topics.Acks], Route, logger);
        _follower.Start();
        return base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        _follower?.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        var reported = false;
        var lastStatus = DateTime.MinValue;
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                board.PublishDeadLettersIfChanged();
                var caughtUp = CaughtUp.IsCompletedSuccessfully;
                if (caughtUp != reported || DateTime.UtcNow - lastStatus > TimeSpan.FromSeconds(5))
                {
                    if (caughtUp && !reported)
                    {
                        LogCaughtUp(logger, _follower!.Records);
                    }

                    reported = caughtUp;
                    lastStatus = DateTime.UtcNow;
                    board.SetStatus(new FeedStatus(caughtUp, _follower!.LastRecordTimes, Interlocked.Read(ref _unreadable)));
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    private void Route(TopicRecord record)
    {
        var topics = kafka.Topics;
        if (record.Topic == topics.Alerts)
        {
            string? reason = "record value is null";
            if (record.Value is not null && OutputDecoder.TryDecodeAlert(record.Value, out var alert, out reason))
            {
                board.ApplyAlert(alert!, record.Timestamp);
            }
            else
            {
                Unreadable(record, reason!);
            }
        }
        else if (record.Topic == topics.Aggregates)
        {
            string? reason = "record value is null";
            if (record.Value is not null && OutputDecoder.TryDecodeAggregate(record.Value, out var aggregate, out reason))
            {
                board.ApplyAggregate(aggregate!);
            }
            else
            {
                Unreadable(record, reason!);
            }
        }
        else if (record.Topic == topics.Acks)
        {
            // A malformed command is the engine's to dead-letter; the console shows it from the dead letters.
            if (AlertCommandDecoder.TryDecode(record.Key, record.Value, out var command, out _))
            {
                board.ApplyCommand(command!, record.Timestamp);
            }
        }
        else if (record.Topic == topics.DeadLetters)
        {
            var stage = record.Header(DeadLetterHeaders.Stage) ?? "unknown";
            var reason = record.Header(DeadLetterHeaders.Reason) ?? "(no reason header)";
            string? alertId = null;
            Rules.Model.AlertCommand? command = null;
            if (stage == "command" && record.Key is not null)
            {
                alertId = Encoding.UTF8.GetString(record.Key);
                AlertCommandDecoder.TryDecode(null, record.Value, out command, out _);
            }

            board.ApplyDeadLetter(
                stage,
                record.Header(DeadLetterHeaders.Code),
                reason,
                record.Header(DeadLetterHeaders.SourceTopic),
                record.Header(DeadLetterHeaders.SourcePartition),
                record.Header(DeadLetterHeaders.SourceOffset),
                record.Key,
                record.Value,
                record.Timestamp,
                command,
                alertId);
        }
    }

    private void Unreadable(TopicRecord record, string reason)
    {
        var count = Interlocked.Increment(ref _unreadable);
        if (count <= 10 || count % 1000 == 0)
        {
            LogUnreadable(logger, record.Topic, record.Partition, record.Offset, reason, count);
        }
    }

    [LoggerMessage(EventId = 4201, Level = LogLevel.Warning, Message = "Unreadable record on {Topic} partition {Partition} offset {Offset}: {Reason} ({Count} so far)")]
    private static partial void LogUnreadable(ILogger logger, string topic, int partition, long offset, string reason, long count);

    [LoggerMessage(EventId = 4202, Level = LogLevel.Information, Message = "The console read its topics to their end at start ({Records} records); following them now")]
    private static partial void LogCaughtUp(ILogger logger, long records);
}
