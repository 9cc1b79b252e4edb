using System.Collections.Concurrent;
using Kommune.Connectors.Broker;
using Kommune.Connectors.Codecs;
using Kommune.Connectors.Kafka;
using Kommune.Rules.Model;
using Microsoft.Extensions.Logging;

namespace Kommune.Connectors.Tests;

/// <summary>The reader of operations centres' commands against the embedded broker: nothing but a stop ends it.</summary>
public sealed class KafkaCommandSourceTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_handler_that_throws_does_not_end_the_reader_the_command_is_read_again_and_handled_and_the_failure_is_counted_and_logged()
    {
        using var cluster = EmbeddedKafkaCluster.Start(1);
        cluster.CreateTopic("acks", partitions: 1);
        await SendAsync(cluster, "fall:w-1:1");
        var calls = new ConcurrentQueue<string>();
        var logger = new RecordingLogger();
        using var source = Source(cluster, new DeadLetters(), logger, (command, _, _) =>
        {
            calls.Enqueue(command.AlertId);
            return calls.Count == 1
                ? throw new InvalidOperationException("the alert's partition was just revoked")
                : Task.FromResult<string?>(null);
        });

        source.Start();
        await WaitUntilAsync(() => source.Handled == 1);
        await SendAsync(cluster, "fall:w-2:2");
        await WaitUntilAsync(() => source.Handled == 2);

        Assert.Equal(["fall:w-1:1", "fall:w-1:1", "fall:w-2:2"], calls);
        Assert.Equal(1, source.Failures);
        Assert.Equal(0, source.Refused);
        var failed = Assert.Single(logger.Lines, l => l.Level == LogLevel.Error);
        Assert.Equal(1103, failed.EventId);
        Assert.Contains("failed (1 times so far)", failed.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_dead_letter_sink_that_throws_does_not_end_the_reader_and_the_command_is_dead_lettered_when_it_reads_it_again()
    {
        using var cluster = EmbeddedKafkaCluster.Start(1);
        cluster.CreateTopic("acks", partitions: 1);
        await SendAsync(cluster, "fall:w-1:1");
        var deadLetters = new DeadLetters { FailFirst = true };
        using var source = Source(cluster, deadLetters, new RecordingLogger(), (_, _, _) => Task.FromResult<string?>("no open alert"));

        source.Start();
        await WaitUntilAsync(() => !deadLetters.Sent.IsEmpty);

        var deadLetter = Assert.Single(deadLetters.Sent);
        Assert.Equal(DeadLetterCode.CommandRefused, deadLetter.Code);
        Assert.Equal("no open alert", deadLetter.Reason);
        Assert.Equal(1, source.Failures);
        Assert.Equal(1, source.Refused);
    }

    [Fact]
    public async Task The_Kafka_clients_own_log_lines_reach_the_logger()
    {
        using var cluster = EmbeddedKafkaCluster.Start(1);
        cluster.CreateTopic("acks", partitions: 1);
        var logger = new RecordingLogger();
        using var source = new KafkaCommandSource(
            Options(cluster, (_, _, _) => Task.FromResult<string?>(null)) with
            {
                ClientSettings = new KafkaClientSettings(consumer: [new("debug", "cgrp")]),
            },
            new DeadLetters(),
            logger);

        source.Start();

        await WaitUntilAsync(() => logger.Lines.Any(l => l.EventId == 1106 && l.Text.StartsWith("librdkafka command reader [", StringComparison.Ordinal)));
        Assert.All(logger.Lines.Where(l => l.EventId == 1106), l => Assert.Equal(LogLevel.Debug, l.Level));
    }

    private static KafkaCommandSource Source(
        EmbeddedKafkaCluster cluster, DeadLetters deadLetters, ILogger logger, Func<AlertCommand, RecordSource, CancellationToken, Task<string?>> handle) =>
        new(Options(cluster, handle), deadLetters, logger);

    private static KafkaCommandSourceOptions Options(EmbeddedKafkaCluster cluster, Func<AlertCommand, RecordSource, CancellationToken, Task<string?>> handle) =>
        new()
        {
            BootstrapServers = cluster.BootstrapServers,
            GroupId = "commands",
            Topic = "acks",
            Handle = handle,
            RestartDelay = TimeSpan.FromMilliseconds(50),
            // The embedded broker can keep a new consumer of the group waiting up to the session timeout after the old one
            // left (the reader starts a new consumer after a failure): keep it short.
            SessionTimeout = TimeSpan.FromSeconds(3),
        };

    private static async Task SendAsync(EmbeddedKafkaCluster cluster, string alertId)
    {
        using var sink = new KafkaCommandSink(cluster.BootstrapServers, KafkaClientSettings.None, "acks");
        await sink.SendAsync(new AlertCommand(alertId, AlertAction.Ack, "nurse Kari", DateTimeOffset.UtcNow));
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(Wait);
        while (!condition())
        {
            await Task.Delay(20, timeout.Token);
        }
    }

    /// <summary>Takes dead letters and acknowledges each at once; when <see cref="FailFirst"/>, the first send throws.</summary>
    private sealed class DeadLetters : IDeadLetterSink
    {
        private int _sends;

        public bool FailFirst { get; init; }

        public ConcurrentQueue<DeadLetter> Sent { get; } = new();

        public void Send(DeadLetter deadLetter, Action onAcknowledged)
        {
            if (FailFirst && Interlocked.Increment(ref _sends) == 1)
            {
                throw new InvalidOperationException("the producer is closed");
            }

            Sent.Enqueue(deadLetter);
            onAcknowledged();
        }
    }
}
