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
    public double Threshold { get; init; } = 4;

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
    public double ScoreAlpha { get; init; } = 0.4;

    /// <summary>
    /// When set (0.8–0.99), the noise scale is at least what this quantile of the recent absolute residuals implies
    /// for normal noise: series with heavy tails (frequent short spikes) then need larger deviations to alert.
    /// </summary>
    public double? TailQuantile { get; init; } = 0.9;

    /// <summary>
    /// When above zero, the share of readings (per direction) this series may spend at or above its deviation
    /// threshold: once <see cref="CalibrationReadings"/>/4 readings are scored, the threshold of a direction rises to
    /// the score this share of the recent readings reached (at most 1.9 × <see cref="Threshold"/>), so a series with
    /// frequent excursions of one kind stops alerting on them. Zero turns calibration off.
    /// </summary>
    public double CalibratedRate { get; init; } = 0.01;

    /// <summary>The memory of the calibration, in readings (the histogram's decay horizon).</summary>
    public int CalibrationReadings { get; init; } = 3000;

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

    /// <summary>Past passes (the mean of each pass through the hour) kept per hour-of-week bucket.</summary>
    public int WeekReservoir { get; init; } = 4;

    /// <summary>Past passes (the mean of each pass through the hour) kept per hour-of-day bucket.</summary>
    public int DayReservoir { get; init; } = 12;

    /// <summary>Readings (and residuals) kept for the global robust statistics.</summary>
    public int RecentReservoir { get; init; } = 288;

    /// <summary>Readings kept for the night baseline.</summary>
    public int NightReservoir { get; init; } = 48;

    /// <summary>Past passes an hour-of-week bucket needs before the profile uses it (an hour-of-day bucket needs one).</summary>
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
            var threshold = CalibratedThreshold(state, smoothed >= 0 ? state.UpScores : state.DownScores);
            var anomalous = Math.Abs(smoothed) >= threshold && Math.Sign(score) == Math.Sign(smoothed);
            Step(state.Deviation, SeriesAnomalyKind.Deviation, anomalous, Math.Sign(smoothed), score, Back(expected), t, _options.Threshold, signals);
            Calibrate(state, smoothed);
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

        // Learn. The profile takes the mean of each finished pass through an hour, as it is (the reservoirs' medians
        // are robust, and a lasting change of the pattern must become the new normal, over days); the EWMA level,
        // drift and residuals take the reading winsorized, so an anomaly moves them only a little. A stuck meter
        // teaches nothing.
        if (!state.Stuck.Open)
        {
            var clipped = first ? value : Math.Clamp(value, expected - (_options.Threshold * scale), expected + (_options.Threshold * scale));
            Pass(state, t, weekBucket, value);
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
            : state.Day[hour].Count >= 1 ? state.Day[hour]
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

    private const int CalibrationBins = 40;

    private double CalibratedThreshold(SeriesAnomalyState state, IList<double> histogram)
    {
        if (_options.CalibratedRate <= 0 || state.Scored < _options.CalibrationReadings / 4 || histogram.Count != CalibrationBins)
        {
            return _options.Threshold;
        }

        var total = 0.0;
        for (var i = 0; i < histogram.Count; i++)
        {
            total += histogram[i];
        }

        // The lowest bin edge with at most the calibrated share of the readings at or above it.
        var allowed = _options.CalibratedRate * total;
        var above = 0.0;
        var width = 2 * _options.Threshold / CalibrationBins;
        var edge = 2 * _options.Threshold;
        for (var i = histogram.Count - 1; i >= 0; i--)
        {
            if (above + histogram[i] > allowed)
            {
                break;
            }

            above += histogram[i];
            edge = i * width;
        }

        return Math.Clamp(edge, _options.Threshold, 1.9 * _options.Threshold);
    }

    private void Calibrate(SeriesAnomalyState state, double smoothed)
    {
        if (_options.CalibratedRate <= 0)
        {
            return;
        }

        if (state.UpScores.Count != CalibrationBins || state.DownScores.Count != CalibrationBins)
        {
            state.UpScores = new double[CalibrationBins].ToList();
            state.DownScores = new double[CalibrationBins].ToList();
        }

        var keep = 1 - (1.0 / _options.CalibrationReadings);
        for (var i = 0; i < CalibrationBins; i++)
        {
            state.UpScores[i] *= keep;
            state.DownScores[i] *= keep;
        }

        var bin = (int)Math.Min(CalibrationBins - 1, Math.Abs(smoothed) / (2 * _options.Threshold) * CalibrationBins);
        (smoothed >= 0 ? state.UpScores : state.DownScores)[bin] += 1;
        (smoothed >= 0 ? state.DownScores : state.UpScores)[0] += 1;
        state.Scored++;
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

    /// <summary>
    /// Adds a reading to the current pass through an hour bucket. When the hour changes (or an hour has gone by), the
    /// pass's mean goes into its hour-of-week and hour-of-day reservoirs: the profile holds one value per past pass,
    /// so readings of the hour under way never make themselves normal.
    /// </summary>
    private void Pass(SeriesAnomalyState state, long t, int weekBucket, double value)
    {
        if (state.PassCount > 0 && (weekBucket != state.PassBucket || t - state.PassStartMs >= 3_600_000))
        {
            var mean = state.PassSum / state.PassCount;
            Push(state.Week[state.PassBucket], mean, _options.WeekReservoir);
            Push(state.Day[state.PassBucket % 24], mean, _options.DayReservoir);
            state.PassCount = 0;
            state.PassSum = 0;
        }

        if (state.PassCount == 0)
        {
            state.PassBucket = weekBucket;
            state.PassStartMs = t;
        }

        state.PassSum += value;
        state.PassCount++;
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
