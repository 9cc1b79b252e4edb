using Kommune.Connectors.Simulation;
using Kommune.Rules.Api;
using Kommune.Rules.BuiltIn;

namespace Kommune.Detection;

/// <summary>
/// Runs the energy-anomaly rule's detector over labelled series and scores its raised alerts with NAB's scorer. The
/// detector runs as the rule runs it: with the options the rule reads from its parameters, one reading at a time, an
/// alert raised at the reading where an episode starts (NabOfflineCheckTests runs the rule itself in the rule test
/// kit over the same series and gets the same score).
/// </summary>
public static class DetectionRun
{
    /// <summary>The readings' times where the rule's detector starts an episode (the rule raises an alert there), as UTC.</summary>
    public static IReadOnlyList<DateTimeOffset> Raised(RecordedSeries series, string parametersJson)
    {
        var detector = new SeriesAnomalyDetector(new EnergyAnomalyRule(RuleParameters.FromJson(parametersJson)).Options);
        var state = new SeriesAnomalyState();
        var raised = new List<DateTimeOffset>();
        foreach (var reading in series.Readings)
        {
            var time = new DateTimeOffset(reading.Time, TimeSpan.Zero);
            if (detector.Observe(state, time, reading.Value).Any(s => s.Action == SeriesSignalAction.Start))
            {
                raised.Add(time);
            }
        }

        return raised;
    }

    /// <summary>Every series' detections with one parameter set (in parallel over the series).</summary>
    public static IReadOnlyList<IReadOnlyList<DateTimeOffset>> RaisedAll(IReadOnlyList<LabelledSeries> corpus, string parametersJson)
    {
        var result = new IReadOnlyList<DateTimeOffset>[corpus.Count];
        Parallel.For(0, corpus.Count, i => result[i] = Raised(corpus[i].Series, parametersJson));
        return result;
    }

    /// <summary>Scores detections (one list per series, same order) under every profile.</summary>
    public static IReadOnlyList<NabFileScore> Score(IReadOnlyList<LabelledSeries> corpus, IReadOnlyList<IReadOnlyList<DateTimeOffset>> detections) =>
        [.. NabProfile.All.SelectMany(p => corpus.Select((s, i) => NabScorer.ScoreFile(s.File, s.Timestamps, s.Windows, detections[i], p)))];

    /// <summary>The standard profile's normalised score of some of the series.</summary>
    public static double Standard(IReadOnlyList<LabelledSeries> corpus, IReadOnlyList<IReadOnlyList<DateTimeOffset>> detections, Func<LabelledSeries, bool> which) =>
        NabScorer.Normalized(corpus.Select((s, i) => (s, i)).Where(x => which(x.s)).Select(x => NabScorer.ScoreFile(x.s.File, x.s.Timestamps, x.s.Windows, detections[x.i], NabProfile.Standard)));
}
