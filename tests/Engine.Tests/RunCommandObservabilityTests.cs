using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Kommune.Engine.Tests.Support;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>
/// <c>kommune run</c> as a supervisor runs it: every line it logs is one JSON object (timestamp, level, category,
/// event id, message and the message's values), its metrics endpoint answers from outside the process, and
/// readiness follows the engine from start to a graceful stop.
/// </summary>
[Collection(KafkaLanes.First)]
public sealed partial class RunCommandObservabilityTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    [Fact]
    public async Task Run_logs_json_lines_and_serves_metrics_and_readiness_until_it_stops()
    {
        using var bed = new KafkaTestBed(output, partitions: 2);
        using var engine = KommuneProcess.Start("run", "--bootstrap-servers", bed.BootstrapServers, "--group-id", "observed");
        try
        {
            await engine.WaitForOutputAsync("Assigned partitions", Wait);
            var endpoint = new Uri(ListeningAt().Match(engine.Output).Groups["url"].Value);
            output.WriteLine($"endpoint at {endpoint}");
            await KafkaTestBed.WaitUntilAsync(async () => (await GetAsync(new Uri(endpoint, "readyz"))).Status == HttpStatusCode.OK);
            Assert.Equal(HttpStatusCode.OK, (await GetAsync(new Uri(endpoint, "healthz"))).Status);

            bed.ProduceEvent(Events.Fall("json-fall-1", "area-1", 0));
            bed.Flush();
            await KafkaTestBed.WaitUntilAsync(async () => new PrometheusText((await GetAsync(new Uri(endpoint, "metrics"))).Body).Sum("kommune_events_processed_total") == 1);

            await engine.StopAsync("TERM", Wait);
            Assert.Equal(0, engine.ExitCode);
        }
        finally
        {
            output.WriteLine(engine.Output);
        }

        var lines = engine.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(lines.Length >= 5, "the engine logged its start, assignment and stop");
        foreach (var line in lines)
        {
            using var json = JsonDocument.Parse(line); // every line is one JSON object
            var root = json.RootElement;
            Assert.True(DateTimeOffset.TryParse(root.GetProperty("Timestamp").GetString(), out _), line);
            Assert.Contains(root.GetProperty("LogLevel").GetString(), new[] { "Debug", "Information", "Warning", "Error", "Critical" });
            Assert.False(string.IsNullOrEmpty(root.GetProperty("Category").GetString()), line);
            Assert.False(string.IsNullOrEmpty(root.GetProperty("Message").GetString()), line);
            Assert.Equal(JsonValueKind.Number, root.GetProperty("EventId").ValueKind);
        }

        // A message's values are fields of their own, for a log collector to filter on.
        var started = lines.Select(l => JsonDocument.Parse(l).RootElement).First(l => l.GetProperty("Message").GetString()!.StartsWith("Engine started", StringComparison.Ordinal));
        Assert.Equal("observed", started.GetProperty("State").GetProperty("GroupId").GetString());
    }

    [Fact]
    public async Task Run_on_a_metrics_port_in_use_stops_at_start_and_says_so()
    {
        using var bed = new KafkaTestBed(output, partitions: 1);
        using var taken = new System.Net.Sockets.TcpListener(IPAddress.Any, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var engine = KommuneProcess.Start("run", "--bootstrap-servers", bed.BootstrapServers, "--metrics-port", port);

        await engine.WaitForExitAsync(Wait);

        output.WriteLine(engine.Output);
        Assert.Equal(2, engine.ExitCode);
        Assert.Contains($"The metrics endpoint cannot listen on 0.0.0.0:{port}", engine.Output, StringComparison.Ordinal);
    }

    private static async Task<(HttpStatusCode Status, string Body)> GetAsync(Uri uri)
    {
        try
        {
            using var response = await Http.GetAsync(uri);
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }
        catch (HttpRequestException)
        {
            return (HttpStatusCode.ServiceUnavailable, "");
        }
    }


    [GeneratedRegex("""Metrics at (?<url>http://[^/"]+/)metrics""")]
    private static partial Regex ListeningAt();
}
