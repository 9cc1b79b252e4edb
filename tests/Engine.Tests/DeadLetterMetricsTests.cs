using System.Text;
using Kommune.Connectors.Codecs;
using Kommune.Engine.Observability;
using Kommune.Engine.Tests.Support;
using Kommune.Rules.Runtime;

namespace Kommune.Engine.Tests;

/// <summary>
/// <c>kommune_dead_letters_total</c> takes its labels from the dead letter's code, chosen where it was made: the reason
/// text can say anything without moving a count to another label (the dashboards and alert rules use these values).
/// </summary>
public sealed class DeadLetterMetricsTests
{
    [Fact]
    public async Task A_reworded_reason_is_counted_under_the_same_labels()
    {
        var metrics = new EngineMetrics("kommune.sensor-events", RuleSet.Empty);

        metrics.DeadLettered(Letter("missing field 'areaId'", DeadLetterCode.MissingField));
        metrics.DeadLettered(Letter("areaId: required, absent", DeadLetterCode.MissingField));
        metrics.DeadLettered(Letter("record value is not a JSON object", DeadLetterCode.MissingField)); // the text another code's once had
        metrics.DeadLettered(Letter("missing field 'ts'", DeadLetterCode.Other)); // and the other way round

        var scrape = await ScrapeAsync(metrics);
        Assert.Equal(3, scrape.Sum("kommune_dead_letters_total", ("stage", "decode"), ("reason", "missing_field")));
        Assert.Equal(1, scrape.Sum("kommune_dead_letters_total", ("stage", "decode"), ("reason", "other")));
        Assert.Equal(0, scrape.Sum("kommune_dead_letters_total", ("reason", "not_an_object")));
    }

    [Fact]
    public async Task Every_code_is_counted_under_its_stage_and_label()
    {
        var metrics = new EngineMetrics("kommune.sensor-events", RuleSet.Empty);
        foreach (var code in DeadLetterCode.All)
        {
            metrics.DeadLettered(Letter("the same text for all", code));
        }

        var scrape = await ScrapeAsync(metrics);
        var samples = scrape.Samples("kommune_dead_letters_total").Select(s => (s.Labels["stage"], s.Labels["reason"], s.Value)).ToHashSet();
        Assert.Equal(
            [
                ("decode", "null_value", 1), ("decode", "too_large", 1), ("decode", "malformed_json", 1), ("decode", "not_an_object", 1),
                ("decode", "missing_field", 1), ("decode", "wrong_type", 1), ("decode", "bad_id", 1), ("decode", "bad_timestamp", 1),
                ("decode", "future_timestamp", 1), ("decode", "too_old_timestamp", 1), ("decode", "not_finite", 1), ("decode", "nested_value", 1),
                ("decode", "key_mismatch", 1), ("decode", "other", 1), ("late", "late", 1), ("rule", "rule_failed", 1),
                ("command", "command_refused", 1), ("output", "output_refused", 1),
            ],
            samples.Select(s => (s.Item1, s.Item2, (int)s.Value)).ToHashSet());
    }

    private static DeadLetter Letter(string reason, DeadLetterCode code) =>
        new(null, "{}"u8.ToArray(), "kommune.sensor-events", 0, 1, reason, code);

    private static async Task<PrometheusText> ScrapeAsync(EngineMetrics metrics)
    {
        using var scrape = new MemoryStream();
        await metrics.Registry.CollectAndExportAsTextAsync(scrape);
        return new PrometheusText(Encoding.UTF8.GetString(scrape.ToArray()));
    }
}
