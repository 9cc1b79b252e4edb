using Kommune.Engine.Tests.Support;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>
/// A stop ends even when Kafka does not answer: a supervisor's SIGTERM to a node whose broker has gone silent must not
/// leave the process hanging in a consumer's close or a commit. The stop waits for the drain and then for the host's
/// shutdown deadline (ShutdownTimeout + 15 s), then leaves, says so, and exits 1. A second SIGTERM while it waits
/// exits at once.
/// </summary>
[Collection(KafkaLanes.First)]
public sealed class StopDeadlineTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task A_stop_while_the_broker_does_not_answer_ends_at_the_shutdown_deadline_and_says_so()
    {
        using var bed = new KafkaTestBed(output);
        var environment = new Dictionary<string, string> { ["KOMMUNE_ShutdownTimeout"] = "00:00:02" };
        using var engine = KommuneProcess.Start(environment, "run", "--bootstrap-servers", bed.BootstrapServers, "--group-id", "stop-deadline");
        try
        {
            await SilenceTheBrokerAfterCommitsAsync(bed, engine, "stop-deadline");
            await engine.StopAsync("TERM", Wait);

            Assert.Equal(1, engine.ExitCode);
            Assert.Contains("The stop did not finish before the shutdown deadline", engine.Output, StringComparison.Ordinal);
            Assert.DoesNotContain("Engine stopped after", engine.Output, StringComparison.Ordinal);
        }
        finally
        {
            output.WriteLine(engine.Output);
        }
    }

    /// <summary>
    /// A supervisor that does not want to wait sends SIGTERM again: the process exits at once with 143, without draining.
    /// The first stop waits on a broker that takes five minutes to answer, so the second signal always finds it running
    /// (against a broker that answers, the demo's stop ends within a second and the test would race it).
    /// </summary>
    [Fact]
    public async Task A_second_SIGTERM_during_a_stop_that_waits_on_the_broker_exits_at_once_with_143()
    {
        using var bed = new KafkaTestBed(output);
        using var engine = KommuneProcess.Start("run", "--bootstrap-servers", bed.BootstrapServers, "--group-id", "second-sigterm");
        try
        {
            await SilenceTheBrokerAfterCommitsAsync(bed, engine, "second-sigterm");
            await engine.SignalAsync("TERM");
            await engine.WaitForOutputAsync("Stopping: draining", Wait);
            await engine.StopAsync("TERM", Wait);

            Assert.Equal(143, engine.ExitCode);
            Assert.Contains("Second SIGTERM: exiting now without draining", engine.Output, StringComparison.Ordinal);
            Assert.DoesNotContain("Engine stopped after", engine.Output, StringComparison.Ordinal);
            Assert.DoesNotContain("The stop did not finish before the shutdown deadline", engine.Output, StringComparison.Ordinal);
        }
        finally
        {
            output.WriteLine(engine.Output);
        }
    }

    /// <summary>
    /// Once the engine in group <paramref name="groupId"/> has processed and committed 20 falls (so its consumer holds
    /// stored offsets its close must commit), every request to the broker takes five minutes to be answered: a stop's
    /// commit and the producer's flush wait.
    /// </summary>
    private static async Task SilenceTheBrokerAfterCommitsAsync(KafkaTestBed bed, KommuneProcess engine, string groupId)
    {
        await engine.WaitForOutputAsync("taken", Wait);
        for (var i = 0; i < 20; i++)
        {
            bed.ProduceEvent(Events.Fall($"resident-{i:D2}", "area-1", i));
        }

        bed.Flush();
        await KafkaTestBed.WaitUntilAsync(() => bed.CommittedAndEnd(groupId, bed.Options.Topics.SensorEvents).Committed >= 20);
        bed.Cluster.SetBrokerRoundTrip(1, TimeSpan.FromMinutes(5));
    }
}
