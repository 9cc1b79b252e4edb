using System.Diagnostics;
using System.Globalization;
using Kommune.Connectors.Simulation;

namespace Kommune.Detection;

/// <summary>
/// Scores the energy-anomaly rule on the labelled NAB series with NAB's scorer.
/// <code>
/// dotnet run -c Release --project bench/Kommune.Detection -- score [--data DIR] [--params JSON]
/// dotnet run -c Release --project bench/Kommune.Detection -- loko [--data DIR] [--grid JSON]
/// dotnet run -c Release --project bench/Kommune.Detection -- sweep [--data DIR] [--grid JSON]
/// </code>
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 0 || args[0] is not ("score" or "loko" or "sweep"))
        {
            Console.Error.WriteLine("usage: Kommune.Detection score|loko|sweep [--data DIR] [--params JSON] [--grid JSON]");
            return 2;
        }

        var data = Option(args, "--data") ?? NabCorpus.DefaultDataDirectory();
        var clock = Stopwatch.StartNew();
        var corpus = NabCorpus.Load(data);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{corpus.Count} series, {corpus.Sum(s => s.Windows.Count)} windows, {corpus.Sum(s => s.Series.Readings.Count)} readings in {corpus.Select(s => s.Kind).Distinct().Count()} kinds under {data}"));
        switch (args[0])
        {
            case "score":
                Score(corpus, Option(args, "--params") ?? ParameterGrid.Generic);
                break;
            case "loko":
                LeaveOneKindOut(corpus, Grid(args));
                break;
            default:
                Sweep(corpus, Grid(args));
                break;
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"({clock.Elapsed.TotalSeconds:0.0} s)"));
        return 0;
    }

    private static void Score(IReadOnlyList<LabelledSeries> corpus, string parameters)
    {
        Console.WriteLine("parameters: " + parameters);
        var detections = DetectionRun.RaisedAll(corpus, parameters);
        Report(corpus, detections);
    }

    private static void Report(IReadOnlyList<LabelledSeries> corpus, IReadOnlyList<IReadOnlyList<DateTimeOffset>> detections)
    {
        var scores = DetectionRun.Score(corpus, detections);
        Console.WriteLine();
        Console.WriteLine(NabScorer.Table(scores, NabProfile.All));
        Console.WriteLine();
        Console.WriteLine(KindTable(corpus, scores));
        Console.WriteLine();
        foreach (var profile in NabProfile.All)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{profile.Name}: {NabScorer.Normalized(scores.Where(s => s.Profile == profile)):0.00}"));
        }
    }

    private static string KindTable(IReadOnlyList<LabelledSeries> corpus, IReadOnlyList<NabFileScore> scores)
    {
        var kindOf = corpus.ToDictionary(s => s.File, s => s.Kind, StringComparer.Ordinal);
        var lines = new List<string>
        {
            "| kind | files | windows | detected | false pos. | " + string.Join(" | ", NabProfile.All.Select(p => p.Name)) + " |",
            "|---|---:|---:|---:|---:|" + string.Concat(NabProfile.All.Select(_ => "---:|")),
        };
        foreach (var kind in corpus.Select(s => s.Kind).Distinct())
        {
            var of = scores.Where(s => kindOf[s.File] == kind).ToList();
            var standard = of.Where(s => s.Profile == NabProfile.Standard).ToList();
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"| {kind} | {standard.Count} | {standard.Sum(s => s.Windows)} | {standard.Sum(s => s.WindowsDetected)} | {standard.Sum(s => s.FalsePositives)} | ")
                + string.Join(" | ", NabProfile.All.Select(p => KindCell(of.Where(s => s.Profile == p).ToList()))) + " |");
        }

        return string.Join(Environment.NewLine, lines);
    }

    /// <summary>A kind's normalised score, or its raw score (marked) when it has no windows.</summary>
    private static string KindCell(List<NabFileScore> scores) => scores.Sum(s => s.Windows) > 0
        ? NabScorer.Normalized(scores).ToString("0.0", CultureInfo.InvariantCulture)
        : "raw " + scores.Sum(s => s.Raw).ToString("0.00", CultureInfo.InvariantCulture);

    private static IReadOnlyList<string> Grid(string[] args) => Option(args, "--grid") is { } grid ? ParameterGrid.Product(grid) : ParameterGrid.Sets();

    private static List<(string Parameters, IReadOnlyList<IReadOnlyList<DateTimeOffset>> Detections)> RunGrid(IReadOnlyList<LabelledSeries> corpus, IReadOnlyList<string> sets)
    {
        Console.WriteLine($"grid: {sets.Count} global parameter sets");
        return [.. sets.Select(p => (p, DetectionRun.RaisedAll(corpus, p)))];
    }

    private static void Sweep(IReadOnlyList<LabelledSeries> corpus, IReadOnlyList<string> sets)
    {
        var kinds = corpus.Select(s => s.Kind).Distinct().ToList();
        Console.WriteLine("| parameters | all | detected | false pos. | " + string.Join(" | ", kinds) + " |");
        foreach (var (parameters, detections) in RunGrid(corpus, sets).OrderByDescending(g => DetectionRun.Standard(corpus, g.Detections, _ => true)))
        {
            var standard = DetectionRun.Score(corpus, detections).Where(s => s.Profile == NabProfile.Standard).ToList();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {parameters} | {DetectionRun.Standard(corpus, detections, _ => true):0.0} | {standard.Sum(s => s.WindowsDetected)} | {standard.Sum(s => s.FalsePositives)} | ")
                + string.Join(" | ", kinds.Select(k => DetectionRun.Standard(corpus, detections, s => s.Kind == k).ToString("0.0", CultureInfo.InvariantCulture))) + " |");
        }
    }

    /// <summary>
    /// For each kind: the grid set with the best standard score on the other kinds' files, run on this kind's files.
    /// Then the held-out detections of every file scored together, once.
    /// </summary>
    private static void LeaveOneKindOut(IReadOnlyList<LabelledSeries> corpus, IReadOnlyList<string> sets)
    {
        var grid = RunGrid(corpus, sets);
        var heldOut = new IReadOnlyList<DateTimeOffset>[corpus.Count];
        var rows = new List<string> { "| held-out kind | chosen on the other four (their standard score) | parameters |", "|---|---:|---|" };
        foreach (var kind in corpus.Select(s => s.Kind).Distinct())
        {
            var best = grid.MaxBy(g => DetectionRun.Standard(corpus, g.Detections, s => s.Kind != kind));
            for (var i = 0; i < corpus.Count; i++)
            {
                if (corpus[i].Kind == kind)
                {
                    heldOut[i] = best.Detections[i];
                }
            }

            rows.Add(string.Create(CultureInfo.InvariantCulture, $"| {kind} | {DetectionRun.Standard(corpus, best.Detections, s => s.Kind != kind):0.0} | `{best.Parameters}` |"));
        }

        Console.WriteLine();
        Console.WriteLine(string.Join(Environment.NewLine, rows));
        Console.WriteLine();
        Console.WriteLine("Every file run with the set chosen without its kind, scored together:");
        Report(corpus, heldOut);
    }

    private static string? Option(string[] args, string name)
    {
        var at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? args[at + 1] : null;
    }
}
