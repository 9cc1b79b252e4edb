using Confluent.Kafka;
using Kommune.Connectors.Codecs;
using Kommune.Rules.Model;
using Microsoft.Extensions.Logging;

namespace Kommune.Connectors.Kafka;

/// <summary>
/// Reads operations centres' commands (ack, resolve) from the acks topic, one at a time on its own thread, and
/// hands each to the engine. At-least-once: a command's offset is stored only after the engine has handled it and
/// the broker acknowledged what it caused, or after its dead letter was acknowledged. A command that is malformed,
/// or that the engine refuses (no such open alert), becomes a dead letter with the reason.
/// </summary>
public sealed partial class KafkaCommandSource : IDisposable
{
    private static readonly TimeSpan PollTimeout = TimeSpan.FromMilliseconds(200);
    private readonly string _bootstrapServers;
    private readonly KafkaClientSettings _clientSettings;
    private readonly string _groupId;
    private readonly string _topic;
    private readonly IDeadLetterSink _deadLetters;
    private readonly Func<AlertCommand, RecordSource, CancellationToken, Task<string?>> _handle;
    private readonly ILogger _logger;
    private readonly TimeSpan? _sessionTimeout;
    private readonly CancellationTokenSource _stop = new();
    private Thread? _thread;
    private long _handled;
    private long _refused;

    /// <summary>A source that is not yet reading.</summary>
    /// <param name="bootstrapServers">The cluster.</param>
    /// <param name="clientSettings">The librdkafka settings from configuration (TLS, SASL), applied over the consumer's own.</param>
    /// <param name="groupId">Its consumer group.</param>
    /// <param name="topic">The acks topic.</param>
    /// <param name="deadLetters">Where refused commands go.</param>
    /// <param name="handle">
    /// Handles one command (with where it was read); completes with null once it is handled (or forwarded to the node
    /// that holds its alert) and what that wrote acknowledged, or with the reason to dead-letter it.
    /// </param>
    /// <param name="logger">Where the source logs.</param>
    /// <param name="sessionTimeout">The group session timeout (the broker's default when null): how long a node that died holds its share of the acks.</param>
    public KafkaCommandSource(
        string bootstrapServers,
        KafkaClientSettings clientSettings,
        string groupId,
        string topic,
        IDeadLetterSink deadLetters,
        Func<AlertCommand, RecordSource, CancellationToken, Task<string?>> handle,
        ILogger logger,
        TimeSpan? sessionTimeout = null)
    {
        _sessionTimeout = sessionTimeout;
        ArgumentNullException.ThrowIfNull(clientSettings);
        _bootstrapServers = bootstrapServers;
        _clientSettings = clientSettings;
        _groupId = groupId;
        _topic = topic;
        _deadLetters = deadLetters;
        _handle = handle;
        _logger = logger;
    }

    /// <summary>Commands handled.</summary>
    public long Handled => Interlocked.Read(ref _handled);

    /// <summary>Commands dead-lettered (malformed or refused).</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Starts reading on its own thread.</summary>
    public void Start()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = "kommune-commands" };
        _thread.Start();
    }

    /// <summary>Stops reading, commits what is done, and leaves the group.</summary>
    public void Stop()
    {
        _stop.Cancel();
        _thread?.Join();
    }

    /// <summary>Stops the source.</summary>
    public void Dispose()
    {
        Stop();
        _stop.Dispose();
    }

    private void Run()
    {
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(_clientSettings.ApplyTo(new ConsumerConfig
        {
            BootstrapServers = _bootstrapServers,
            GroupId = _groupId,
            ClientId = "kommune-command-reader",
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = true,
            AutoCommitIntervalMs = 1_000,
            EnableAutoOffsetStore = false,
            FetchWaitMaxMs = 100,
            SessionTimeoutMs = _sessionTimeout is { } session ? (int)session.TotalMilliseconds : null,
            // A third of the session (the client's default is 3 s whatever the session): with a short session the
            // group otherwise takes the reader's partition away between heartbeats, and a command is read again.
            HeartbeatIntervalMs = _sessionTimeout is { } beat ? Math.Max(100, (int)(beat.TotalMilliseconds / 3)) : null,
        })).SetLogHandler((_, _) => { }).Build();
        consumer.Subscribe(_topic);
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                ConsumeResult<byte[]?, byte[]?>? result;
                try
                {
                    result = consumer.Consume(PollTimeout);
                }
                catch (ConsumeException e)
                {
                    LogConsumeError(_logger, e.Error.Reason);
                    continue;
                }

                if (result?.Message is null || !Handle(result))
                {
                    continue;
                }

                consumer.StoreOffset(result);
            }
        }
        finally
        {
            try
            {
                consumer.Close();
            }
            catch (KafkaException e)
            {
                // Fenced by a node with the same id, or the broker gone: leaving the group failed, the node goes on
                // stopping (an exception on this thread would end the process).
                LogConsumeError(_logger, e.Error.Reason);
            }
        }
    }

    /// <returns>true when the command is done (handled or dead-lettered and acknowledged).</returns>
    private bool Handle(ConsumeResult<byte[]?, byte[]?> result)
    {
        string? reason;
        if (AlertCommandDecoder.TryDecode(result.Message.Key, result.Message.Value, out var command, out var failure))
        {
            try
            {
                var source = new RecordSource(result.Topic, result.Partition.Value, result.Offset.Value, result.Message.Key, result.Message.Value);
                reason = _handle(command!, source, _stop.Token).GetAwaiter().GetResult();
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }
        else
        {
            reason = failure.Text;
        }

        if (reason is null)
        {
            Interlocked.Increment(ref _handled);
            return true;
        }

        Interlocked.Increment(ref _refused);
        LogRefused(_logger, result.Partition.Value, result.Offset.Value, reason);
        var acknowledged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _deadLetters.Send(
            new DeadLetter(result.Message.Key, result.Message.Value, result.Topic, result.Partition.Value, result.Offset.Value, reason, DeadLetterCode.CommandRefused),
            acknowledged.SetResult);
        try
        {
            acknowledged.Task.Wait(_stop.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    [LoggerMessage(EventId = 1101, Level = LogLevel.Warning, Message = "Command at acks partition {Partition} offset {Offset} dead-lettered: {Reason}")]
    private static partial void LogRefused(ILogger logger, int partition, long offset, string reason);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Warning, Message = "Reading commands failed: {Reason}")]
    private static partial void LogConsumeError(ILogger logger, string reason);
}
