using Kommune.Rules.Model;

namespace Kommune.Rules.BuiltIn;

/// <summary>The kinds of anomaly a <see cref="SeriesAnomalyDetector"/> reports.</summary>
public enum SeriesAnomalyKind
{
    /// <summary>A sustained deviation from the expected value: a spike up or a drop down.</summary>
    Deviation,

    /// <summary>A stuck (flat-lined) meter: the reading did not change for a span.</summary>
    Stuck,

    /// <summary>Consumption in the night hours well above the night baseline.</summary>
    NightConsumption,
}

/// <summary>What happened to an episode.</summary>
public enum SeriesSignalAction
{
    /// <summary>An episode started (raise its alert).</summary>
    Start,

    /// <summary>An open episode grew more severe (update its alert).</summary>
    Escalate,

    /// <summary>An open episode ended: the series is back to normal (resolve its alert).</summary>
    End,
}

/// <summary>One change of an anomaly episode.</summary>
/// <param name="Kind">The kind of anomaly.</param>
/// <param name="Action">Start, escalate or end.</param>
/// <param name="EpisodeStartMs">When the episode started, Unix milliseconds: with <paramref name="Kind"/> it names the episode.</param>
/// <param name="Severity">The episode's severity now.</param>
/// <param name="Score">The robust score of the reading (for a stuck meter: how many stuck spans it lasted).</param>
/// <param name="Expected">The value the detector expected.</param>
public sealed record SeriesAnomalySignal(
    SeriesAnomalyKind Kind,
    SeriesSignalAction Action,
    long EpisodeStartMs,
    AlertSeverity Severity,
    double Score,
    double Expected);

/// <summary>How a <see cref="SeriesAnomalyDetector"/> judges a series. The defaults suit 1–60 minute readings.</summary>
public sealed record SeriesAnomalyOptions
{
    /// <summary>A reading is anomalous when its robust score (deviation over scale) is at least this.</summary>
    public double Threshold { get; init; } = 3.5;

    /// <summary>Anomalous readings in a row that open an episode (short blips do not).</summary>
    public int MinConsecutive { get; init; } = 3;

    /// <summary>An anomalous run this long (and at least two readings) opens an episode with fewer readings.</summary>
    public TimeSpan MinSpan { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>An open episode ends after <see cref="MinConsecutive"/> normal readings spanning at least this.</summary>
    public TimeSpan ResolveAfter { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>A reading unchanged (within <see cref="StuckTolerance"/>) for this long is a stuck meter.</summary>
    public TimeSpan StuckFor { get; init; } = TimeSpan.FromHours(6);

    /// <summary>How much a reading may change and still count as unchanged.</summary>
    public double StuckTolerance { get; init; }

    /// <summary>The first night hour (local), or null to not watch the night.</summary>
    public int? NightStartHour { get; init; }

    /// <summary>The hour (local) the night ends (exclusive); may be smaller than the start (over midnight).</summary>
    public int NightEndHour { get; init; } = 5;

    /// <summary>A night reading is anomalous when its score against the night baseline is at least this.</summary>
    public double NightThreshold { get; init; } = 4;

    /// <summary>
    /// The EWMA weight of a new score in the smoothed score the decision is taken on (1 = the raw score). Each score
    /// enters clipped to twice the threshold, so one wild reading cannot open an episode.
    /// </summary>
    public double ScoreAlpha { get; init; } = 0.6;

    /// <summary>
    /// When set (0.8–0.99), the noise scale is at least what this quantile of the recent absolute residuals implies
    /// for normal noise: series with heavy tails (frequent short spikes) then need larger deviations to alert.
    /// </summary>
    public double? TailQuantile { get; init; } = 0.9;

    /// <summary>Whether the detector works on log(1 + max(reading, 0)): for positive, heavy-tailed series.</summary>
    public bool LogTransform { get; init; }

    /// <summary>Readings learned before any is scored.</summary>
    public int WarmUp { get; init; } = 12;

    /// <summary>The time zone of the hour-of-week profile and the night hours.</summary>
    public TimeZoneInfo TimeZone { get; init; } = TimeZoneInfo.Utc;

    /// <summary>The smallest scale, relative to the expected value (so a very regular series does not alert on noise).</summary>
    public double MinRelativeScale { get; init; } = 0.02;

    /// <summary>The smallest scale in the series' unit.</summary>
    public double MinAbsoluteScale { get; init; } = 1e-6;

    /// <summary>The EWMA weight of a new reading in the short-term level and offset.</summary>
    public double LevelAlpha { get; init; } = 0.1;

    /// <summary>Readings kept per hour-of-week bucket.</summary>
    public int WeekReservoir { get; init; } = 8;

    /// <summary>Readings kept per hour-of-day bucket.</summary>
    public int DayReservoir { get; init; } = 12;

    /// <summary>Readings (and residuals) kept for the global robust statistics.</summary>
    public int RecentReservoir { get; init; } = 96;

    /// <summary>Readings kept for the night baseline.</summary>
    public int NightReservoir { get; init; } = 48;

    /// <summary>Readings a bucket needs before the profile uses it.</summary>
    public int MinBucketCount { get; init; } = 3;
}

/// <summary>
/// An online anomaly detector for any single numeric series, one reading at a time. The expected value comes from a
/// robust hour-of-week profile (per bucket the median and MAD of a small reservoir of its newest readings; the
/// hour-of-day bucket while the week's has too few, the short-term EWMA level and global robust statistics before
/// that) plus a short-term EWMA of the drift. Each reading gets a robust z-like score; a deviation, a stuck meter or
/// night consumption is reported only when it is sustained, as episodes that start, escalate and end.
/// </summary>
/// <remarks>Pure: it keeps nothing itself; every call reads and changes the <see cref="SeriesAnomalyState"/> passed in.</remarks>
public sealed class SeriesAnomalyDetector
{
    private const double MadToSigma = 1.4826;
    private readonly SeriesAnomalyOptions _options;

    /// <summary>A detector with these options.</summary>
    public SeriesAnomalyDetector(SeriesAnomalyOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
    }

    /// <summary>The options.</summary>
    public SeriesAnomalyOptions Options => _options;

    /// <summary>Severity for a score relative to its threshold: Low at the threshold, Medium from 1.6×, High from 2.5×, Critical from 4×.</summary>
    public static AlertSeverity SeverityFor(double score, double threshold)
    {
        var ratio = Math.Abs(score) / threshold;
        return ratio >= 4 ? AlertSeverity.Critical
            : ratio >= 2.5 ? AlertSeverity.High
            : ratio >= 1.6 ? AlertSeverity.Medium
            : AlertSeverity.Low;
    }

    /// <summary>
    /// Handles one reading: scores it, learns from it and returns what happened to the episodes (usually nothing).
    /// Readings not newer than the last one handled are ignored.
    /// </summary>
    public IReadOnlyList<SeriesAnomalySignal> Observe(SeriesAnomalyState state, DateTimeOffset time, double value)
    {
        ArgumentNullException.ThrowIfNull(state);
        var t = time.ToUnixTimeMilliseconds();
        if (t <= state.LastTimeMs || !double.IsFinite(value))
        {
            return [];
        }

        var reading = value;
        if (_options.LogTransform)
        {
            value = Math.Log(1 + Math.Max(value, 0));
        }

        EnsureShape(state);
        var signals = new List<SeriesAnomalySignal>(0);
        var local = TimeZoneInfo.ConvertTime(time, _options.TimeZone);
        var hour = local.Hour;
        var weekBucket = (((int)local.DayOfWeek + 6) % 7 * 24) + hour;
        var first = state.Count == 0;

        Stuck(state, t, reading, first, signals);

        var (expected, scale, fromProfile, profileMedian) = Expect(state, weekBucket, hour);
        var score = (value - expected) / scale;
        var warm = state.Count >= _options.WarmUp;
        if (warm)
        {
            var limit = 2 * _options.Threshold;
            state.SmoothedScore += _options.ScoreAlpha * (Math.Clamp(score, -limit, limit) - state.SmoothedScore);
            var smoothed = state.SmoothedScore;
            var anomalous = Math.Abs(smoothed) >= _options.Threshold && Math.Sign(score) == Math.Sign(smoothed);
            Step(state.Deviation, SeriesAnomalyKind.Deviation, anomalous, Math.Sign(smoothed), score, Back(expected), t, _options.Threshold, signals);
        }

        var night = IsNight(hour);
        if (night && warm && state.Night.Count >= Math.Max(_options.MinBucketCount, 6))
        {
            var (median, mad) = MedianMad(state.Night);
            var nightExpected = median;
            var nightScale = Math.Max(MadToSigma * mad, Floor(median));
            var nightScore = (value - nightExpected) / nightScale;
            Step(state.NightUse, SeriesAnomalyKind.NightConsumption, nightScore >= _options.NightThreshold, 1, nightScore, Back(nightExpected), t, _options.NightThreshold, signals);
        }
        else if (state.NightUse.Open || state.NightUse.Anomalous > 0)
        {
            Step(state.NightUse, SeriesAnomalyKind.NightConsumption, false, 1, 0, 0, t, _options.NightThreshold, signals);
        }

        // Learn. The reservoirs take the reading as it is (their medians are robust, and a lasting change of the
        // pattern must become the new normal); the EWMA level, drift and residuals take it winsorized, so an anomaly
        // moves them only a little. A stuck meter teaches nothing.
        if (!state.Stuck.Open)
        {
            var clipped = first ? value : Math.Clamp(value, expected - (_options.Threshold * scale), expected + (_options.Threshold * scale));
            Push(state.Week[weekBucket], value, _options.WeekReservoir);
            Push(state.Day[hour], value, _options.DayReservoir);
            Push(state.Recent, value, _options.RecentReservoir);
            if (!first)
            {
                Push(state.Residuals, clipped - expected, _options.RecentReservoir);
            }

            if (night)
            {
                Push(state.Night, value, _options.NightReservoir);
            }

            var alpha = _options.LevelAlpha;
            state.Level = first ? value : state.Level + (alpha * (clipped - state.Level));
            if (fromProfile)
            {
                state.Offset += alpha * (Math.Clamp(clipped - profileMedian, -2 * scale, 2 * scale) - state.Offset);
            }

            state.Count++;
        }

        state.LastTimeMs = t;
        state.LastValue = reading;
        return signals;
    }

    private (double Expected, double Scale, bool FromProfile, double ProfileMedian) Expect(SeriesAnomalyState state, int weekBucket, int hour)
    {
        var bucket = state.Week[weekBucket].Count >= _options.MinBucketCount ? state.Week[weekBucket]
            : state.Day[hour].Count >= _options.MinBucketCount ? state.Day[hour]
            : null;
        var residualMad = state.Residuals.Count >= _options.MinBucketCount ? MedianMad(state.Residuals).Mad : double.NaN;
        if (_options.TailQuantile is { } q && state.Residuals.Count >= 20)
        {
            // Heavy tails: a scale from a high quantile of |residual| (as if normal), when that is larger than the MAD's.
            residualMad = Math.Max(residualMad, AbsQuantile(state.Residuals, q) / NormalQuantile(q) / MadToSigma);
        }

        if (bucket is null)
        {
            var (_, recentMad) = state.Recent.Count > 0 ? MedianMad(state.Recent) : (0, 0);
            var expected = state.Level;
            var mad = double.IsNaN(residualMad) ? recentMad : Math.Max(recentMad, residualMad);
            return (expected, Math.Max(MadToSigma * mad, Floor(expected)), false, expected);
        }

        var (median, bucketMad) = MedianMad(bucket);
        var blendedMad = double.IsNaN(residualMad) ? bucketMad : Math.Max((bucketMad + residualMad) / 2, residualMad / 2);
        var scale = Math.Max(MadToSigma * blendedMad, Floor(median));

        // The drift is shared by all buckets: it may move this bucket's median by at most its own scale.
        var profileExpected = median + Math.Clamp(state.Offset, -scale, scale);
        return (profileExpected, scale, true, median);
    }

    private double Back(double value) => _options.LogTransform ? Math.Exp(value) - 1 : value;

    private double Floor(double expected) => Math.Max(_options.MinAbsoluteScale, _options.MinRelativeScale * Math.Abs(expected));

    private bool IsNight(int hour)
    {
        if (_options.NightStartHour is not { } start)
        {
            return false;
        }

        var end = _options.NightEndHour;
        return start <= end ? hour >= start && hour < end : hour >= start || hour < end;
    }

    private void Stuck(SeriesAnomalyState state, long t, double value, bool first, List<SeriesAnomalySignal> signals)
    {
        var episode = state.Stuck;
        if (!first && Math.Abs(value - state.LastValue) <= _options.StuckTolerance)
        {
            state.FlatSinceMs ??= state.LastTimeMs;
            state.FlatCount++;
            var spans = (t - state.FlatSinceMs.Value) / _options.StuckFor.TotalMilliseconds;
            if (spans < 1 || state.FlatCount < 2)
            {
                return;
            }

            var severity = spans >= 4 ? AlertSeverity.High : AlertSeverity.Medium;
            if (!episode.Open)
            {
                episode.Open = true;
                episode.StartMs = state.FlatSinceMs.Value;
                episode.Severity = severity;
                signals.Add(new SeriesAnomalySignal(SeriesAnomalyKind.Stuck, SeriesSignalAction.Start, episode.StartMs, severity, spans, value));
            }
            else if (severity > episode.Severity)
            {
                episode.Severity = severity;
                signals.Add(new SeriesAnomalySignal(SeriesAnomalyKind.Stuck, SeriesSignalAction.Escalate, episode.StartMs, severity, spans, value));
            }

            return;
        }

        state.FlatSinceMs = null;
        state.FlatCount = 0;
        if (episode.Open)
        {
            episode.Open = false;
            signals.Add(new SeriesAnomalySignal(SeriesAnomalyKind.Stuck, SeriesSignalAction.End, episode.StartMs, episode.Severity, 0, value));
        }
    }

    private void Step(EpisodeState episode, SeriesAnomalyKind kind, bool anomalous, int direction, double score, double expected, long t, double threshold, List<SeriesAnomalySignal> signals)
    {
        if (anomalous)
        {
            episode.Normal = 0;
            if (episode.Anomalous == 0 || (!episode.Open && direction != episode.Direction))
            {
                episode.Anomalous = 0;
                episode.FirstAnomalousMs = t;
                episode.Direction = direction;
                episode.Peak = 0;
            }

            episode.Anomalous++;
            episode.Peak = Math.Max(episode.Peak, Math.Abs(score));
            if (!episode.Open)
            {
                if (episode.Anomalous >= _options.MinConsecutive
                    || (episode.Anomalous >= 2 && t - episode.FirstAnomalousMs >= _options.MinSpan.TotalMilliseconds))
                {
                    episode.Open = true;
                    episode.StartMs = episode.FirstAnomalousMs;
                    episode.Severity = SeverityFor(episode.Peak, threshold);
                    signals.Add(new SeriesAnomalySignal(kind, SeriesSignalAction.Start, episode.StartMs, episode.Severity, score, expected));
                }
            }
            else
            {
                var severity = SeverityFor(score, threshold);
                if (severity > episode.Severity)
                {
                    episode.Severity = severity;
                    signals.Add(new SeriesAnomalySignal(kind, SeriesSignalAction.Escalate, episode.StartMs, severity, score, expected));
                }
            }

            return;
        }

        episode.Anomalous = 0;
        episode.Peak = 0;
        if (!episode.Open)
        {
            return;
        }

        if (episode.Normal == 0)
        {
            episode.FirstNormalMs = t;
        }

        episode.Normal++;
        if (episode.Normal >= _options.MinConsecutive && t - episode.FirstNormalMs >= _options.ResolveAfter.TotalMilliseconds)
        {
            episode.Open = false;
            episode.Normal = 0;
            signals.Add(new SeriesAnomalySignal(kind, SeriesSignalAction.End, episode.StartMs, episode.Severity, score, expected));
        }
    }

    private static void EnsureShape(SeriesAnomalyState state)
    {
        if (state.Week.Count != 168)
        {
            state.Week = [.. Enumerable.Range(0, 168).Select(_ => new List<double>())];
        }

        if (state.Day.Count != 24)
        {
            state.Day = [.. Enumerable.Range(0, 24).Select(_ => new List<double>())];
        }
    }

    private static void Push(IList<double> reservoir, double value, int capacity)
    {
        while (reservoir.Count >= capacity)
        {
            reservoir.RemoveAt(0);
        }

        reservoir.Add(value);
    }

    private static (double Median, double Mad) MedianMad(IList<double> values)
    {
        Span<double> buffer = values.Count <= 128 ? stackalloc double[values.Count] : new double[values.Count];
        for (var i = 0; i < values.Count; i++)
        {
            buffer[i] = values[i];
        }

        var median = Median(buffer);
        for (var i = 0; i < buffer.Length; i++)
        {
            buffer[i] = Math.Abs(buffer[i] - median);
        }

        return (median, Median(buffer));
    }

    private static double AbsQuantile(IList<double> values, double q)
    {
        Span<double> buffer = values.Count <= 128 ? stackalloc double[values.Count] : new double[values.Count];
        for (var i = 0; i < values.Count; i++)
        {
            buffer[i] = Math.Abs(values[i]);
        }

        buffer.Sort();
        return buffer[Math.Min(buffer.Length - 1, (int)(q * buffer.Length))];
    }

    private static double NormalQuantile(double q) => q switch
    {
        >= 0.99 => 2.576,
        >= 0.975 => 2.241,
        >= 0.95 => 1.960,
        >= 0.9 => 1.645,
        _ => 1.282,
    };

    private static double Median(Span<double> values)
    {
        if (values.Length == 0)
        {
            return 0;
        }

        values.Sort();
        var mid = values.Length / 2;
        return values.Length % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
    }
}
