namespace Kommune.Rules.BuiltIn;

/// <summary>
/// Everything a <see cref="SeriesAnomalyDetector"/> remembers about one series: plain numbers and fixed-size arrays
/// (about 570 numbers), so System.Text.Json can snapshot and restore it and its size never grows with the series.
/// Arrays are empty until the first reading.
/// </summary>
public sealed class SeriesAnomalyState
{
    /// <summary>How many readings were learned from.</summary>
    public long Count { get; set; }

    /// <summary>The event time of the newest reading handled, in Unix milliseconds (older ones are ignored).</summary>
    public long LastTimeMs { get; set; } = long.MinValue;

    /// <summary>The newest reading.</summary>
    public double LastValue { get; set; }

    /// <summary>The lowest reading learned from (after the log transform, if any).</summary>
    public double RangeLow { get; set; }

    /// <summary>The highest reading learned from.</summary>
    public double RangeHigh { get; set; }

    /// <summary>Short-term EWMA of the readings: the level predictor.</summary>
    public double Level { get; set; }

    /// <summary>Short-term EWMA of the reading minus the hour-of-day profile (drift the profile has not caught up with).</summary>
    public double DayOffset { get; set; }

    /// <summary>Short-term EWMA of the reading minus the hour-of-week profile.</summary>
    public double WeekOffset { get; set; }

    /// <summary>
    /// Per predictor (level, hour of day, hour of week), the EWMA of its absolute error: the predictor with the
    /// smallest is used, and its error is the series' noise scale.
    /// </summary>
    public double[] Errors { get; set; } = [];

    /// <summary>The predictor the newest reading was judged by (0 level, 1 hour of day, 2 hour of week).</summary>
    public int Predictor { get; set; }

    /// <summary>Per predictor, how many errors it has been scored on.</summary>
    public long[] ErrorCounts { get; set; } = [];

    /// <summary>Short-term EWMA of the score: sustained deviations build it up, single blips hardly move it.</summary>
    public double SmoothedScore { get; set; }

    /// <summary>Per hour of the day (24), the EWMA of the means of its past passes.</summary>
    public double[] DayMeans { get; set; } = [];

    /// <summary>Per hour of the day, the EWMA of its passes' mean absolute deviation from the bucket's mean (its own spread).</summary>
    public double[] DaySpreads { get; set; } = [];

    /// <summary>Per hour of the day, how many passes it has learned (capped).</summary>
    public int[] DayPasses { get; set; } = [];

    /// <summary>Per hour of the week (168, Monday 00 first), the EWMA of the means of its past passes.</summary>
    public double[] WeekMeans { get; set; } = [];

    /// <summary>Per hour of the week, how many passes it has learned (capped).</summary>
    public int[] WeekPasses { get; set; } = [];

    /// <summary>The hour-of-week bucket of the pass under way.</summary>
    public int PassBucket { get; set; }

    /// <summary>When the pass under way started, Unix milliseconds.</summary>
    public long PassStartMs { get; set; }

    /// <summary>The sum of the readings of the pass under way.</summary>
    public double PassSum { get; set; }

    /// <summary>The sum of the absolute deviations of the pass's readings from its hour-of-day mean.</summary>
    public double PassSpread { get; set; }

    /// <summary>How many readings the pass under way has.</summary>
    public int PassCount { get; set; }

    /// <summary>The night baseline: EWMA of the readings in the night hours.</summary>
    public double NightMean { get; set; }

    /// <summary>The night baseline's spread: EWMA of the night readings' absolute deviation from it.</summary>
    public double NightSpread { get; set; }

    /// <summary>How many night readings were learned from.</summary>
    public long NightCount { get; set; }

    /// <summary>
    /// Decayed histograms of the smoothed score (bins over 0..2×threshold), above zero then below zero (40 each):
    /// how often this series reaches each score, for the calibrated thresholds. Weights grow by
    /// <see cref="ScoreWeight"/> instead of every bin decaying at every reading.
    /// </summary>
    public double[] ScoreHistogram { get; set; } = [];

    /// <summary>The weight the next reading adds to the score histograms (grows as older readings fade).</summary>
    public double ScoreWeight { get; set; } = 1;

    /// <summary>How many readings the score histograms have taken.</summary>
    public long Scored { get; set; }

    /// <summary>When the newest deviation episode started, Unix milliseconds (for the quiet period after it).</summary>
    public long LastEpisodeMs { get; set; } = long.MinValue;

    /// <summary>The sustained-deviation episode (spikes up, drops down).</summary>
    public EpisodeState Deviation { get; set; } = new();

    /// <summary>The night-consumption episode.</summary>
    public EpisodeState NightUse { get; set; } = new();

    /// <summary>Since when the reading has not changed (Unix milliseconds), or null.</summary>
    public long? FlatSinceMs { get; set; }

    /// <summary>How many readings in a row equalled the one before.</summary>
    public int FlatCount { get; set; }

    /// <summary>The longest unchanged stretch this series has had that did not count as stuck, in milliseconds: routine flat stretches.</summary>
    public long LongestFlatMs { get; set; }

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
