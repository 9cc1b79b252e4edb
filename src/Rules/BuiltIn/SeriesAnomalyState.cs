namespace Kommune.Rules.BuiltIn;

/// <summary>
/// Everything a <see cref="SeriesAnomalyDetector"/> remembers about one series: plain values and bounded lists, so
/// System.Text.Json can snapshot and restore it. Its size does not grow with the length of the series.
/// </summary>
public sealed class SeriesAnomalyState
{
    /// <summary>How many readings were learned from.</summary>
    public long Count { get; set; }

    /// <summary>The event time of the newest reading handled, in Unix milliseconds (older ones are ignored).</summary>
    public long LastTimeMs { get; set; } = long.MinValue;

    /// <summary>The newest reading.</summary>
    public double LastValue { get; set; }

    /// <summary>Short-term EWMA of the readings (the level used before the profile has data).</summary>
    public double Level { get; set; }

    /// <summary>Short-term EWMA of the reading minus the profile's median (drift the profile has not caught up with).</summary>
    public double Offset { get; set; }

    /// <summary>Short-term EWMA of the robust score: sustained deviations build it up, single blips hardly move it.</summary>
    public double SmoothedScore { get; set; }

    /// <summary>Per hour-of-week bucket (168, Monday 00 first), the means of its newest past passes (bounded, oldest first).</summary>
    public IList<List<double>> Week { get; set; } = [];

    /// <summary>Per hour-of-day bucket (24), the means of its newest past passes (bounded, oldest first).</summary>
    public IList<List<double>> Day { get; set; } = [];

    /// <summary>The hour-of-week bucket of the pass under way.</summary>
    public int PassBucket { get; set; }

    /// <summary>When the pass under way started, Unix milliseconds.</summary>
    public long PassStartMs { get; set; }

    /// <summary>The sum of the readings of the pass under way.</summary>
    public double PassSum { get; set; }

    /// <summary>How many readings the pass under way has.</summary>
    public int PassCount { get; set; }

    /// <summary>The newest readings regardless of time (bounded): the global robust statistics.</summary>
    public IList<double> Recent { get; set; } = [];

    /// <summary>The newest residuals (reading minus expected value, bounded): the series' robust noise scale.</summary>
    public IList<double> Residuals { get; set; } = [];

    /// <summary>The newest readings in the night hours (bounded): the night baseline.</summary>
    public IList<double> Night { get; set; } = [];

    /// <summary>
    /// Decayed histogram of the smoothed score above zero (bins over 0..2×threshold): how often this series reaches
    /// each upward score, for the calibrated threshold. Empty until scoring starts.
    /// </summary>
    public IList<double> UpScores { get; set; } = [];

    /// <summary>As <see cref="UpScores"/>, for the smoothed score below zero (its magnitude).</summary>
    public IList<double> DownScores { get; set; } = [];

    /// <summary>How many readings the score histograms have taken.</summary>
    public long Scored { get; set; }

    /// <summary>The sustained-deviation episode (spikes up, drops down).</summary>
    public EpisodeState Deviation { get; set; } = new();

    /// <summary>The night-consumption episode.</summary>
    public EpisodeState NightUse { get; set; } = new();

    /// <summary>Since when the reading has not changed (Unix milliseconds), or null.</summary>
    public long? FlatSinceMs { get; set; }

    /// <summary>How many readings in a row equalled the one before.</summary>
    public int FlatCount { get; set; }

    /// <summary>The stuck-meter episode (its start is <see cref="FlatSinceMs"/>).</summary>
    public EpisodeState Stuck { get; set; } = new();
}

/// <summary>One kind of anomaly episode of a series: the run of anomalous readings before it opens, and of normal ones before it ends.</summary>
public sealed class EpisodeState
{
    /// <summary>Whether an episode is open (its alert raised and not resolved).</summary>
    public bool Open { get; set; }

    /// <summary>When the open episode started (its first anomalous reading), Unix milliseconds; part of its incident id.</summary>
    public long StartMs { get; set; }

    /// <summary>The highest severity reported for the open episode.</summary>
    public Model.AlertSeverity Severity { get; set; }

    /// <summary>+1 above, -1 below the expected value: the direction of the current run.</summary>
    public int Direction { get; set; }

    /// <summary>Anomalous readings in a row.</summary>
    public int Anomalous { get; set; }

    /// <summary>The first reading of the anomalous run, Unix milliseconds.</summary>
    public long FirstAnomalousMs { get; set; }

    /// <summary>The largest absolute score of the anomalous run.</summary>
    public double Peak { get; set; }

    /// <summary>Normal readings in a row while open.</summary>
    public int Normal { get; set; }

    /// <summary>The first reading of the normal run while open, Unix milliseconds.</summary>
    public long FirstNormalMs { get; set; }
}
