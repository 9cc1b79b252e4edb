using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Kommune.Connectors.Simulation;
using Kommune.Engine.Hosting;
using Kommune.Engine.Tests.Support;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>
/// A real Prometheus server (Debian's package) with the shipped configuration and alert rules scrapes a running
/// engine on loopback; its HTTP API then answers for the engine's counters, and every shipped rule evaluates without
/// error. promtool checks and unit-tests the shipped rules.
/// </summary>
[Collection(KafkaLanes.First)]
public sealed class PrometheusServerTests(ITestOutputHelper output)
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    [Fact]
    public async Task A_real_Prometheus_with_the_shipped_config_scrapes_the_engine_and_evaluates_the_shipped_rules()
    {
        using var bed = new KafkaTestBed(output, partitions: 2);
        await using var engine = await bed.StartEngineAsync();
        await using var endpoint = await EngineHttpEndpoint.StartAsync(engine, "127.0.0.1", 0, bed.LoggerFactory);
        var simulator = new SensorSimulator(new SimulatorOptions { Sensors = 50, Areas = 2, Seed = 3, FallsPerMinute = 600 });
        for (var i = 0; i < 300; i++)
        {
            bed.ProduceEvent(simulator.Next(Events.T0.AddMilliseconds(i * 100)));
        }

        bed.Flush();
        await KafkaTestBed.WaitUntilAsync(() => engine.Statistics is { Processing: 0, Processed: 300 });

        // The shipped configuration, with the engine's loopback address as its target and a 1 s interval (15 s shipped).
        var folder = Directory.CreateTempSubdirectory("kommune-prometheus-");
        var prometheusPort = PrometheusTools.FreePort();
        var prometheus = StartPrometheus(folder.FullName, endpoint.Address, prometheusPort);
        try
        {
            var api = new Uri($"http://127.0.0.1:{prometheusPort}/api/v1/");
            double processed = -1;
            await KafkaTestBed.WaitUntilAsync(async () =>
            {
                processed = await QueryScalarAsync(api, "sum(kommune_events_processed_total{job=\"kommune-engine\"})") ?? -1;
                return processed == 300;
            }, () => $"Prometheus answered {processed} for kommune_events_processed_total; its log:\n{prometheus.Log}");
            Assert.Equal(1, await QueryScalarAsync(api, "up{job=\"kommune-engine\"}"));
            Assert.Equal(engine.Statistics.Consumed, await QueryScalarAsync(api, "sum(kommune_events_consumed_total)"));

            // Every shipped rule loaded and, once evaluated, without error.
            List<(string Group, string Name, string Health, string? Error)> rules = [];
            await KafkaTestBed.WaitUntilAsync(async () =>
            {
                rules = await RulesAsync(api);
                return rules.Count > 0 && rules.All(r => r.Health != "unknown");
            }, () => $"rules: {string.Join(", ", rules)}");
            output.WriteLine(string.Join("\n", rules.Select(r => $"{r.Group}/{r.Name}: {r.Health} {r.Error}")));
            Assert.All(rules, r => Assert.True(r.Health == "ok", $"{r.Group}/{r.Name}: {r.Health} {r.Error}"));
            foreach (var alert in new[] { "KommuneEngineDown", "KommuneConsumerLagGrowing", "KommuneDeadLetterRate", "KommuneLatencyOverBudget", "KommuneWatermarkStuck" })
            {
                Assert.Contains(rules, r => r.Name == alert);
            }

            // The recording rules compute from the engine's series.
            await KafkaTestBed.WaitUntilAsync(
                async () => await QueryScalarAsync(api, "instance:kommune_consumer_lag_records:sum") is not null,
                () => "no value for instance:kommune_consumer_lag_records:sum");
        }
        finally
        {
            prometheus.Dispose();
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Promtool_checks_the_shipped_config_and_rules_and_their_unit_tests_pass()
    {
        var folder = RepositoryFiles.Path("deploy", "prometheus");
        foreach (var arguments in new[]
                 {
                     new[] { "check", "rules", Path.Combine(folder, "alerts.yml") },
                     ["check", "config", Path.Combine(folder, "prometheus.yml")],
                     ["test", "rules", Path.Combine(folder, "alerts_test.yml")],
                 })
        {
            var (exitCode, text) = await PrometheusTools.PromtoolAsync(null, arguments);
            output.WriteLine($"promtool {string.Join(' ', arguments)}: exit {exitCode}\n{text}");
            Assert.True(exitCode == 0, $"promtool {string.Join(' ', arguments)}: {text}");
        }
    }

    private static PrometheusProcess StartPrometheus(string folder, Uri engine, int port)
    {
        var shipped = RepositoryFiles.Path("deploy", "prometheus");
        var config = File.ReadAllText(Path.Combine(shipped, "prometheus.yml"));
        var target = $"[\"{engine.Host}:{engine.Port}\"]";
        var edited = config
            .Replace("[\"engine:9464\"]", target, StringComparison.Ordinal)
            .Replace("scrape_interval: 15s", "scrape_interval: 1s", StringComparison.Ordinal)
            .Replace("evaluation_interval: 15s", "evaluation_interval: 1s", StringComparison.Ordinal);
        Assert.Contains(target, edited, StringComparison.Ordinal);
        Assert.Contains("scrape_interval: 1s", edited, StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(folder, "prometheus.yml"), edited);
        File.Copy(Path.Combine(shipped, "alerts.yml"), Path.Combine(folder, "alerts.yml"));

        var start = new ProcessStartInfo(PrometheusTools.Require("prometheus"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = folder,
        };
        foreach (var argument in new[]
                 {
                     $"--config.file={Path.Combine(folder, "prometheus.yml")}",
                     $"--storage.tsdb.path={Path.Combine(folder, "data")}",
                     $"--web.listen-address=127.0.0.1:{port}",
                 })
        {
            start.ArgumentList.Add(argument);
        }

        return new PrometheusProcess(Process.Start(start)!);
    }

    private static async Task<double?> QueryScalarAsync(Uri api, string query)
    {
        try
        {
            using var response = await Http.GetAsync(new Uri(api, "query?query=" + Uri.EscapeDataString(query)));
            if (!response.IsSuccessStatusCode)
            {
                return null; // starting: Prometheus answers 503 until its storage is ready
            }

            using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var result = body.RootElement.GetProperty("data").GetProperty("result");
            return result.GetArrayLength() == 0
                ? null
                : double.Parse(result[0].GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture);
        }
        catch (HttpRequestException)
        {
            return null; // not listening yet
        }
    }

    private static async Task<List<(string Group, string Name, string Health, string? Error)>> RulesAsync(Uri api)
    {
        try
        {
            using var response = await Http.GetAsync(new Uri(api, "rules"));
            if (!response.IsSuccessStatusCode)
            {
                return [];
            }

            using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            return [.. body.RootElement.GetProperty("data").GetProperty("groups").EnumerateArray().SelectMany(g => g.GetProperty("rules").EnumerateArray().Select(r => (
                g.GetProperty("name").GetString()!,
                r.GetProperty("name").GetString()!,
                r.GetProperty("health").GetString()!,
                r.TryGetProperty("lastError", out var e) ? e.GetString() : null)))];
        }
        catch (HttpRequestException)
        {
            return [];
        }
    }


    /// <summary>A Prometheus server process with its output kept for a failing test's message.</summary>
    private sealed class PrometheusProcess : IDisposable
    {
        private readonly Process _process;
        private readonly System.Text.StringBuilder _log = new();
        private bool _disposed;

        public PrometheusProcess(Process process)
        {
            _process = process;
            _process.OutputDataReceived += (_, e) => Append(e.Data);
            _process.ErrorDataReceived += (_, e) => Append(e.Data);
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public string Log
        {
            get
            {
                lock (_log)
                {
                    return _log.ToString();
                }
            }
        }

        public void Dispose()
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }

            _process.Dispose();
        }

        private void Append(string? line)
        {
            if (line is not null)
            {
                lock (_log)
                {
                    _log.AppendLine(line);
                }
            }
        }
    }
}
