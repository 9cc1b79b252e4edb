using Kommune.Connectors.Simulation;
using Kommune.Rules.Api;
using Kommune.Rules.BuiltIn;
using Kommune.Rules.Model;
using Kommune.Rules.Testing;

namespace Kommune.Detection;

/// <summary>
/// Runs the energy-anomaly rule's detector over labelled series and scores its raised alerts with NAB's scorer. By
/// default the detector runs alone, as the rule runs it (one reading at a time; an alert is raised at the reading where
/// an episode starts); with <c>kit</c> the rule itself runs in the rule test kit, which gives the same alerts, slower.
/// </summary>
public static class DetectionRun
{
    /// <summary>The times the rule raised alerts at over one series, replayed at its recorded times (as UTC).</summary>
    public static IReadOnlyList<DateTimeOffset> Raised(RecordedSeries series, string parametersJson, bool kit = false) =>
        kit ? RaisedInKit(series, parametersJson) : RaisedByDetector(series, parametersJson);

    /// <summary>The readings' times where the rule's detector starts an episode (the rule raises an alert there).</summary>
    public static IReadOnlyList<DateTimeOffset> RaisedByDetector(RecordedSeries series, string parametersJson)
    {
        var detector = new SeriesAnomalyDetector(new EnergyAnomalyRule(RuleParameters.FromJson(parametersJson)).Options);
        var state = new SeriesAnomalyState();
        var raised = new List<DateTimeOffset>();
        foreach (var reading in series.Readings)
        {
            var time = new DateTimeOffset(reading.Time, TimeSpan.Zero);
            foreach (var signal in detector.Observe(state, time, reading.Value))
            {
                if (signal.Action == SeriesSignalAction.Start)
                {
                    raised.Add(time);
                }
            }
        }

        return raised;
    }

    /// <summary>The times the rule raised alerts at, run in the rule test kit.</summary>
    public static IReadOnlyList<DateTimeOffset> RaisedInKit(RecordedSeries series, string parametersJson)
    {
        var kit = new RuleTestKit(start: new DateTimeOffset(series.Readings[0].Time, TimeSpan.Zero))
            .Bind(new EnergyAnomalyRule(RuleParameters.FromJson(parametersJson)));
        var end = new DateTimeOffset(series.Readings[^1].Time, TimeSpan.Zero);
        foreach (var e in series.ToEvents("meter-1", "area-1", "energy", "kw", end))
        {
            kit.Send(e);
        }

        if (kit.Failures.Count > 0)
        {
            throw new InvalidOperationException("The rule failed: " + kit.Failures[0].Exception);
        }

        return [.. kit.Alerts.Where(a => a.Status == AlertStatus.Raised).Select(a => a.EventTime)];
    }

    /// <summary>Every series' detections with one parameter set (in parallel over the series).</summary>
    public static IReadOnlyList<IReadOnlyList<DateTimeOffset>> RaisedAll(IReadOnlyList<LabelledSeries> corpus, string parametersJson, bool kit = false)
    {
        var result = new IReadOnlyList<DateTimeOffset>[corpus.Count];
        Parallel.For(0, corpus.Count, i => result[i] = Raised(corpus[i].Series, parametersJson, kit));
        return result;
    }

    /// <summary>Scores detections (one list per series, same order) under every profile.</summary>
    public static IReadOnlyList<NabFileScore> Score(IReadOnlyList<LabelledSeries> corpus, IReadOnlyList<IReadOnlyList<DateTimeOffset>> detections) =>
        [.. NabProfile.All.SelectMany(p => corpus.Select((s, i) => NabScorer.ScoreFile(s.File, s.Timestamps, s.Windows, detections[i], p)))];

    /// <summary>The standard profile's normalised score of some of the series.</summary>
    public static double Standard(IReadOnlyList<LabelledSeries> corpus, IReadOnlyList<IReadOnlyList<DateTimeOffset>> detections, Func<LabelledSeries, bool> which) =>
        NabScorer.Normalized(corpus.Select((s, i) => (s, i)).Where(x => which(x.s)).Select(x => NabScorer.ScoreFile(x.s.File, x.s.Timestamps, x.s.Windows, detections[x.i], NabProfile.Standard)));
}
