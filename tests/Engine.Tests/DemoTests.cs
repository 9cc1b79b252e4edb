using Kommune.Engine.Tests.Support;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>The README's first command, run as a user runs it: a separate process on the embedded default.</summary>
[Collection(KafkaLanes.First)]
public sealed class DemoTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task The_demo_prints_alerts_and_counts_within_fifteen_seconds_and_stops_cleanly()
    {
        using var demo = KommuneProcess.Start("--duration", "15");
        try
        {
            await demo.WaitForExitAsync(TimeSpan.FromSeconds(90));
        }
        finally
        {
            output.WriteLine(demo.Output);
        }

        Assert.Equal(0, demo.ExitCode);
        Assert.Contains("Embedded Kafka broker on 127.0.0.1:", demo.Output, StringComparison.Ordinal);
        Assert.Matches(@"Operations console on http://127\.0\.0\.1:\d+/", demo.Output);
        Assert.Contains("Demo operator login: operator / kommune-demo", demo.Output, StringComparison.Ordinal);
        Assert.Contains("ALERT critical", demo.Output, StringComparison.Ordinal);
        Assert.Matches(@"processed [1-9]\d* \(\d+/s\)", demo.Output);
        Assert.Contains("Engine stopped after", demo.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ctrl_C_stops_the_demo_cleanly_once_it_runs()
    {
        using var demo = KommuneProcess.Start();
        try
        {
            await demo.WaitForOutputAsync("ALERT", Wait);
            await demo.StopAsync("INT", Wait);
        }
        finally
        {
            output.WriteLine(demo.Output);
        }

        Assert.Equal(0, demo.ExitCode);
        Assert.Contains("Engine stopped after", demo.Output, StringComparison.Ordinal);
    }
}
