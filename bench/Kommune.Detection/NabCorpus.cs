using Kommune.Connectors.Simulation;

namespace Kommune.Detection;

/// <summary>One labelled series of the corpus.</summary>
/// <param name="File">Its path relative to its data folder (kind/name.csv).</param>
/// <param name="Kind">Its kind: the folder it is in (realTraffic, realKnownCause, ...).</param>
/// <param name="Series">Its readings.</param>
/// <param name="Windows">Its labelled anomaly windows.</param>
public sealed record LabelledSeries(string File, string Kind, RecordedSeries Series, IReadOnlyList<LabelledWindow> Windows)
{
    /// <summary>The readings' times.</summary>
    public IReadOnlyList<DateTimeOffset> Timestamps { get; } = [.. Series.Readings.Select(r => new DateTimeOffset(r.Time, TimeSpan.Zero))];
}

/// <summary>
/// The labelled NAB series under a data folder: every folder below it with a labels_windows.json (../shared/data/nab
/// and ../shared/data/nab-more), each series' kind being the folder its file is in. Folders of the same kind in
/// different roots (realKnownCause in both) are one kind.
/// </summary>
public static class NabCorpus
{
    /// <summary>Loads every labelled series under <paramref name="dataDirectory"/>, ordered by kind and file.</summary>
    public static IReadOnlyList<LabelledSeries> Load(string dataDirectory)
    {
        var labelFiles = Directory.GetFiles(dataDirectory, "labels_windows.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();
        if (labelFiles.Count == 0)
        {
            throw new DirectoryNotFoundException($"No labels_windows.json under {Path.GetFullPath(dataDirectory)}");
        }

        var series = new List<LabelledSeries>();
        foreach (var labels in labelFiles)
        {
            var root = Path.GetDirectoryName(labels)!;
            foreach (var (file, windows) in LabelledWindows.Load(labels))
            {
                var kind = file.Split('/')[0];
                series.Add(new LabelledSeries(file, kind, RecordedSeries.Load(Path.Combine(root, file)), windows));
            }
        }

        return [.. series.OrderBy(s => s.Kind, StringComparer.Ordinal).ThenBy(s => s.File, StringComparer.Ordinal)];
    }

    /// <summary>The default data folder: ../shared/data from the repository root, found by walking up from here.</summary>
    public static string DefaultDataDirectory()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Engine.sln")))
                {
                    return Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "data"));
                }
            }
        }

        throw new DirectoryNotFoundException("Engine.sln not found above the working directory; give --data");
    }
}
