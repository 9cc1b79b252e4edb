using Confluent.Kafka;
using Kommune.Connectors.Codecs;
using Kommune.Rules.Model;
using Microsoft.Extensions.Logging;

namespace Kommune.Connectors.Kafka;

/// <summary>
/// Reads operations centres' commands (ack, resolve) from the acks topic, one at a time on its own thread, and
/// hands each to the engine. At-least-once: a command's offset is stored only after the engine has handled it and
/// the broker acknowledged what it caused, or after its dead letter was acknowledged. A command that is malformed,
/// or that the engine refuses (no such open alert), becomes a dead letter with the reason. Nothing ends the reader
/// but <see cref="Stop"/>: when its consumer, the handler or the dead-letter sink throws, the failure is logged and
/// counted (<see cref="Failures"/>), and a new consumer reads on from the last command done.
/// </summary>
public sealed partial class KafkaCommandSource : IDisposable
{
    private static readonly TimeSpan PollTimeout = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan MaxRestartDelay = TimeSpan.FromSeconds(30);
    private readonly KafkaCommandSourceOptions _options;
    private readonly IDeadLetterSink _deadLetters;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private Thread? _thread;
    private long _handled;
    private long _refused;
    private long _failures;
    private int _failuresInARow; // since a command was last done; on the reader's thread only

    /// <summary>A source that is not yet reading.</summary>
    /// <param name="options">Where to read and who handles each command.</param>
    /// <param name="deadLetters">Where refused commands go.</param>
    /// <param name="logger">Where the source, and its Kafka client, log.</param>
    public KafkaCommandSource(KafkaCommandSourceOptions options, IDeadLetterSink deadLetters, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(options.ClientSettings);
        ArgumentNullException.ThrowIfNull(options.Handle);
        ArgumentNullException.ThrowIfNull(deadLetters);
        ArgumentNullException.ThrowIfNull(logger);
        _options = options;
        _deadLetters = deadLetters;
        _logger = logger;
    }

    /// <summary>Commands handled.</summary>
    public long Handled => Interlocked.Read(ref _handled);

    /// <summary>Commands dead-lettered (malformed or refused).</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>
    /// Times the reader failed (an exception from its consumer, the handler or the dead-letter sink) and went on with a
    /// new consumer.
    /// </summary>
    public long Failures => Interlocked.Read(ref _failures);

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

    /// <summary>The reader's thread: reads until stopped, with a new consumer after each failure.</summary>
    private void Run()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                Read();
            }
#pragma warning disable CA1031 // An exception on this thread would end the process: it is logged, counted, and reading goes on.
            catch (Exception e)
#pragma warning restore CA1031
            {
                Interlocked.Increment(ref _failures);
                if (_stop.IsCancellationRequested)
                {
                    LogFailedWhileStopping(_logger, e);
                    return;
                }

                var delay = RestartDelay(++_failuresInARow);
                LogFailed(_logger, Failures, delay.TotalSeconds, e);
                _stop.Token.WaitHandle.WaitOne(delay);
            }
        }
    }

    private TimeSpan RestartDelay(int failuresInARow)
    {
        var delay = _options.RestartDelay;
        for (var i = 1; i < failuresInARow && delay < MaxRestartDelay; i++)
        {
            delay *= 2;
        }

        return delay < MaxRestartDelay ? delay : MaxRestartDelay;
    }

    /// <summary>One consumer's run: reads until stopped or until something throws.</summary>
    private void Read()
    {
        var session = _options.SessionTimeout;
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(_options.ClientSettings.ApplyTo(new ConsumerConfig
        {
            BootstrapServers = _options.BootstrapServers,
            GroupId = _options.GroupId,
            ClientId = "kommune-command-reader",
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = true,
            AutoCommitIntervalMs = 1_000,
            EnableAutoOffsetStore = false,
            FetchWaitMaxMs = 100,
            SessionTimeoutMs = session is { } timeout ? (int)timeout.TotalMilliseconds : null,
            // A third of the session (the client's default is 3 s whatever the session): with a short session the
            // group otherwise takes the reader's partition away between heartbeats, and a command is read again.
            HeartbeatIntervalMs = session is { } beat ? Math.Max(100, (int)(beat.TotalMilliseconds / 3)) : null,
        }))
            .SetLogHandler((_, m) => LogClient(_logger, m.Facility, m.Message))
            .SetErrorHandler((_, e) => LogClientError(_logger, e.Code, e.Reason))
            .Build();
        consumer.Subscribe(_options.Topic);
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

                _failuresInARow = 0;
                try
                {
                    consumer.StoreOffset(result);
                }
                catch (KafkaException e)
                {
                    // Its partition was revoked while the command was handled: the partition's new owner reads it again.
                    LogOffsetNotStored(_logger, result.Partition.Value, result.Offset.Value, e.Error.Reason);
                }
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
                // Fenced by a node with the same id, or the broker gone: leaving the group failed, the node goes on.
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
                reason = _options.Handle(command!, source, _stop.Token).GetAwaiter().GetResult();
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
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

        LogRefused(_logger, result.Partition.Value, result.Offset.Value, reason);
        var acknowledged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _deadLetters.Send(
            new DeadLetter(result.Message.Key, result.Message.Value, result.Topic, result.Partition.Value, result.Offset.Value, reason, DeadLetterCode.CommandRefused),
            acknowledged.SetResult);
        Interlocked.Increment(ref _refused); // once sent: a send that throws is the reader's failure, and the command is read again
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

    [LoggerMessage(EventId = 1103, Level = LogLevel.Error, Message = "The command reader failed ({Failures} times so far); reading on with a new consumer in {Seconds} s from the last command done")]
    private static partial void LogFailed(ILogger logger, long failures, double seconds, Exception exception);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Warning, Message = "The command reader failed while stopping")]
    private static partial void LogFailedWhileStopping(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1105, Level = LogLevel.Information, Message = "Command at acks partition {Partition} offset {Offset} done, but its offset was not stored ({Reason}): the partition was handed over and its new owner reads it again")]
    private static partial void LogOffsetNotStored(ILogger logger, int partition, long offset, string reason);

    [LoggerMessage(EventId = 1106, Level = LogLevel.Debug, Message = "librdkafka command reader [{Facility}] {Text}")]
    private static partial void LogClient(ILogger logger, string facility, string text);

    [LoggerMessage(EventId = 1107, Level = LogLevel.Warning, Message = "Command reader error {Code}: {Reason}")]
    private static partial void LogClientError(ILogger logger, ErrorCode code, string reason);
}
