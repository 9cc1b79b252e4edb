using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Kommune.Connectors.Codecs;
using Kommune.Connectors.Simulation;
using Kommune.Engine.Hosting;
using Kommune.Engine.Tests.Support;
using Kommune.Rules.Model;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>
/// The SRE's view of an engine running against the embedded Kafka broker: /metrics counts exactly what was produced
/// and what came out, promtool accepts the scrape, /healthz and /readyz follow the engine's life, and every metric the
/// shipped dashboard and alert rules use is one the engine exports.
/// </summary>
[Collection(KafkaLanes.First)]
public sealed partial class MetricsTests(ITestOutputHelper output)
{

    [Fact]
    public async Task Metrics_count_what_was_produced_and_emitted_pass_promtool_and_readiness_follows_the_engine()
    {
        using var bed = new KafkaTestBed(output, partitions: 4);
        await using var engine = bed.CreateEngine();
        await using var endpoint = await EngineHttpEndpoint.StartAsync(engine, "127.0.0.1", 0, bed.LoggerFactory);

        Assert.Equal((HttpStatusCode.OK, "alive"), await StateAsync(endpoint, "healthz"));
        Assert.Equal((HttpStatusCode.ServiceUnavailable, "not ready"), await StateAsync(endpoint, "readyz"));
        await engine.StartAsync();
        await KafkaTestBed.WaitUntilAsync(async () => await StateAsync(endpoint, "readyz") == (HttpStatusCode.OK, "ready"));

        // Valid events of every type over two and a half minutes of event time (so minute aggregates close), then bad ones.
        var simulator = new SensorSimulator(new SimulatorOptions { Sensors = 200, Areas = 4, Seed = 7, FallsPerMinute = 600 });
        var byType = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < 600; i++)
        {
            var e = simulator.Next(Events.T0.AddMilliseconds(i * 250));
            byType[e.Type] = byType.GetValueOrDefault(e.Type) + 1;
            bed.ProduceEvent(e);
        }

        for (var i = 0; i < 20; i++)
        {
            bed.ProduceRaw($"bad-{i}", """{"sensorId":""");
        }

        for (var i = 0; i < 10; i++)
        {
            bed.ProduceRaw($"m-{i}", $$"""{"sensorId":"m-{{i}}","areaId":"a","type":"traffic"}""");
        }

        for (var i = 0; i < 5; i++)
        {
            bed.ProduceRaw("another-sensor", $$"""{"sensorId":"k-{{i}}","areaId":"a","type":"traffic","ts":{{Events.T0.ToUnixTimeMilliseconds()}}}""");
            bed.ProduceRaw($"o-{i}", $$"""{"sensorId":"o-{{i}}","areaId":"a","type":"traffic","ts":1000}""");
        }

        const int Produced = 600 + 20 + 10 + 5 + 5;
        bed.Flush();
        await KafkaTestBed.WaitUntilAsync(() => engine.Statistics is { Processing: 0 } s && s.Consumed == Produced);
        await KafkaTestBed.WaitUntilAsync(() => bed.CommittedAndEnd(bed.Options.GroupId, bed.Options.Topics.SensorEvents) is var (c, e) && c == e);

        // The lag is read from the consumer about once a second: wait for a scrape that shows every partition caught up.
        // Nothing is in flight in it either: the node keeps reading its own watermark reports from the repartition topic
        // (at least once a second, also when no event comes), so a scrape can catch one of them being processed (CI at
        // e9b38dd: 1 in flight once, with every event processed and every partition's lag 0).
        PrometheusText scrape = null!;
        await KafkaTestBed.WaitUntilAsync(async () =>
        {
            scrape = await ScrapeAsync(endpoint);
            // Four partitions of the sensor events and, read by the same node, the four of the repartition topic.
            var lag = scrape.Samples("kommune_consumer_lag_records").ToList();
            return lag.Count == 8 && lag.All(l => l.Value == 0) && scrape.Sum("kommune_events_in_flight") == 0;
        });
        var statistics = engine.Statistics;
        var topic = ("topic", bed.Options.Topics.SensorEvents);

        Assert.Equal(Produced, scrape.Sum("kommune_events_consumed_total", topic));
        Assert.Equal(0, statistics.LateEvents);
        Assert.Equal(600, statistics.Processed);
        Assert.Equal(600, scrape.Sum("kommune_events_processed_total", topic));
        foreach (var (type, count) in byType)
        {
            // A type some rule declares is its own label; any other is counted as "other".
            var label = type is SensorTypes.Fall or SensorTypes.Traffic or SensorTypes.Parking or SensorTypes.Energy ? type : "other";
            Assert.True(scrape.Sum("kommune_events_processed_total", topic, ("type", label)) >= count, $"{type}: {count} produced");
        }

        Assert.Equal(20, scrape.Sum("kommune_dead_letters_total", ("stage", "decode"), ("reason", "malformed_json")));
        Assert.Equal(10, scrape.Sum("kommune_dead_letters_total", ("stage", "decode"), ("reason", "missing_field")));
        Assert.Equal(5, scrape.Sum("kommune_dead_letters_total", ("stage", "decode"), ("reason", "key_mismatch")));
        Assert.Equal(5, scrape.Sum("kommune_dead_letters_total", ("stage", "decode"), ("reason", "too_old_timestamp")));
        Assert.Equal(40, scrape.Sum("kommune_dead_letters_total"));
        Assert.Equal(40, bed.ReadAtLeast(bed.Options.Topics.DeadLetters, 40).Count);

        // Alerts and aggregates as counted by the engine, and as they are on their topics.
        var alerts = bed.ReadAtLeast(bed.Options.Topics.Alerts, (int)statistics.Alerts);
        Assert.True(statistics.Alerts > 0, "the simulated falls raised alerts");
        Assert.Equal(statistics.Alerts, scrape.Sum("kommune_alerts_emitted_total"));
        Assert.Equal(alerts.Count, (int)scrape.Sum("kommune_alerts_emitted_total"));
        Assert.Equal(
            alerts.Count(a => Encoding.UTF8.GetString(a.Message.Value!).Contains("\"rule\":\"fall-detection\"", StringComparison.Ordinal)),
            (int)scrape.Sum("kommune_alerts_emitted_total", ("rule", "fall-detection")));
        Assert.True(statistics.Aggregates > 0, "minute aggregates closed");
        Assert.Equal(statistics.Aggregates, scrape.Sum("kommune_aggregates_emitted_total"));

        // Latency and rule timing were observed for what was processed; the gauges say what the node holds.
        Assert.Equal(600, scrape.Sum("kommune_event_processing_seconds_count"));
        Assert.True(scrape.Sum("kommune_rule_evaluation_seconds_count", ("rule", "fall-detection")) >= byType[SensorTypes.Fall]);
        Assert.Equal(statistics.ActiveSensors, scrape.Sum("kommune_active_sensor_actors"));
        Assert.Equal(statistics.ActiveAreas, scrape.Sum("kommune_active_area_actors"));
        Assert.Equal(4, scrape.Sum("kommune_assigned_partitions"));
        Assert.Equal(0, scrape.Sum("kommune_events_in_flight"));
        Assert.Equal(1, scrape.Sum("kommune_ready"));
        Assert.Equal(0, scrape.Sum("kommune_rule_failures_total"));
        Assert.Equal(0, scrape.Sum("kommune_actor_failures_total"));
        Assert.True(scrape.Sum("kommune_watermark_lag_seconds") > 0);
        Assert.True(scrape.Sum("kommune_state_records_written_total") > 0);
        Assert.True(scrape.Sum("dotnet_threadpool_threads") > 0);
        Assert.Single(scrape.Samples("kommune_build_info"));

        // No label takes a value from the input: no sensor or area id anywhere in the scrape.
        Assert.DoesNotContain("sensorId", scrape.Text, StringComparison.Ordinal);
        Assert.DoesNotMatch(UnboundedLabel(), scrape.Text);

        var (exitCode, promtool) = await PrometheusTools.PromtoolAsync(scrape.Text, "check", "metrics");
        output.WriteLine($"promtool check metrics: exit {exitCode} {promtool}");
        Assert.True(exitCode == 0, promtool);

        AssertEveryMetricExported(scrape, ShippedExpressions());

        await engine.StopAsync();
        Assert.Equal((HttpStatusCode.ServiceUnavailable, "not ready"), await StateAsync(endpoint, "readyz"));
        Assert.Equal(0, (await ScrapeAsync(endpoint)).Sum("kommune_ready"));
        Assert.Empty(bed.Logs.Errors);
    }

    /// <summary>Every PromQL expression of the shipped Grafana dashboard and alert rules.</summary>
    private static List<string> ShippedExpressions()
    {
        var expressions = new List<string>();
        using var dashboard = JsonDocument.Parse(File.ReadAllText(RepositoryFiles.Path("deploy", "grafana", "dashboards", "kommune-engine.json")));
        void Walk(JsonElement element)
        {
            switch (element.ValueKind)
            {
                case JsonValueKind.Object:
                    foreach (var property in element.EnumerateObject())
                    {
                        if (property.Name is "expr" or "query" && property.Value.ValueKind == JsonValueKind.String)
                        {
                            expressions.Add(property.Value.GetString()!);
                        }
                        else
                        {
                            Walk(property.Value);
                        }
                    }

                    break;
                case JsonValueKind.Array:
                    foreach (var item in element.EnumerateArray())
                    {
                        Walk(item);
                    }

                    break;
            }
        }

        Walk(dashboard.RootElement);
        Assert.True(expressions.Count >= 20, $"the dashboard has {expressions.Count} queries");
        var rules = File.ReadAllText(RepositoryFiles.Path("deploy", "prometheus", "alerts.yml"));
        expressions.AddRange(Regex.Matches(rules, @"expr:\s*(?<e>[^\n]+(\n\s{8,}[^\n]+)*)").Select(m => m.Groups["e"].Value));
        return expressions;
    }

    private void AssertEveryMetricExported(PrometheusText scrape, List<string> expressions)
    {
        var exported = new HashSet<string>(scrape.Families, StringComparer.Ordinal);
        foreach (var family in scrape.Families)
        {
            exported.UnionWith([family + "_bucket", family + "_sum", family + "_count"]);
        }

        var used = expressions
            .SelectMany(e => MetricName().Matches(e).Select(m => m.Value))
            .ToHashSet(StringComparer.Ordinal);
        output.WriteLine($"metrics used by the dashboard and alert rules: {string.Join(", ", used.Order(StringComparer.Ordinal))}");
        var missing = used.Where(name => !exported.Contains(name)).Order(StringComparer.Ordinal).ToList();
        Assert.True(missing.Count == 0, $"used but not exported: {string.Join(", ", missing)}");
    }

    private static Task<PrometheusText> ScrapeAsync(EngineHttpEndpoint endpoint) => EndpointClient.ScrapeAsync(endpoint);

    private static async Task<(HttpStatusCode Status, string State)> StateAsync(EngineHttpEndpoint endpoint, string path)
    {
        var (status, state, _) = await EndpointClient.ProbeAsync(endpoint, path);
        return (status, state);
    }

    // A metric name, not a part of a recording rule's name (instance:kommune_x:rate5m).
    [GeneratedRegex(@"(?<![:\w])(kommune|dotnet|process)_[a-z0-9_]+(?![:\w])")]
    private static partial Regex MetricName();

    // A label holding an id from the input would look like a sensor or simulated area id.
    [GeneratedRegex("""="(fall|traffic|parking|energy|area)-\d{3}""")]
    private static partial Regex UnboundedLabel();
}
