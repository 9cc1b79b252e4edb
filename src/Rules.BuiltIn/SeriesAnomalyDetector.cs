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

/// <summary>How a <see cref="SeriesAnomalyDetector"/> judges a series. The defaults suit readings from a minute to an hour apart.</summary>
public sealed record SeriesAnomalyOptions
{
    /// <summary>A reading is anomalous when its smoothed score (deviation over the noise scale) is at least this.</summary>
    public double Threshold { get; init; } = 4;

    /// <summary>Anomalous readings in a row that open an episode (short blips do not).</summary>
    public int MinConsecutive { get; init; } = 3;

    /// <summary>An anomalous run this long (and at least two readings) opens an episode with fewer readings.</summary>
    public TimeSpan MinSpan { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>An open episode ends after <see cref="MinConsecutive"/> normal readings spanning at least this.</summary>
    public TimeSpan ResolveAfter { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>After a deviation episode starts, no other starts for this long (one alert per incident, not a storm).</summary>
    public TimeSpan QuietAfter { get; init; } = TimeSpan.Zero;

    /// <summary>
    /// How long an open deviation episode is kept from teaching the noise scale: a change that lasts longer starts to
    /// become the new normal (and its episode can end); a shorter one stays one open alert until it ends.
    /// </summary>
    public TimeSpan AdaptAfter { get; init; } = TimeSpan.FromHours(6);

    /// <summary>
    /// When above zero, a reading beyond the lowest or highest of all readings before it, by more than this share of
    /// their range, is anomalous whatever was expected: a new extreme (as Numenta's HTM detector's "spatial anomaly").
    /// It counts toward <see cref="MinConsecutive"/> like a deviation, but <see cref="QuietAfter"/> does not hold it
    /// back; each reading widens the range, so a lasting new level is one such reading, not a run. 0 turns this off.
    /// </summary>
    public double RangeTolerance { get; init; }

    /// <summary>A reading unchanged (within <see cref="StuckTolerance"/>) for this long is a stuck meter.</summary>
    public TimeSpan StuckFor { get; init; } = TimeSpan.FromHours(6);

    /// <summary>How much a reading may change and still count as unchanged.</summary>
    public double StuckTolerance { get; init; }

    /// <summary>
    /// A series whose readings routinely stay unchanged for a while (a square wave, a meter at zero every night) is
    /// stuck only once it stays unchanged this many times longer than its longest routine flat stretch so far.
    /// </summary>
    public double StuckRoutineFactor { get; init; } = 2;

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
    /// When above zero, the share of readings (per direction) this series may spend at or above its deviation
    /// threshold: once <see cref="CalibrationReadings"/>/4 readings are scored, the threshold of a direction rises to
    /// the score this share of the recent readings reached (at most <see cref="MaxCalibration"/> × <see cref="Threshold"/>),
    /// so a series with frequent excursions of one kind stops alerting on them. Zero turns calibration off.
    /// </summary>
    public double CalibratedRate { get; init; } = 0.01;

    /// <summary>The memory of the calibration, in readings (the histogram's decay horizon).</summary>
    public int CalibrationReadings { get; init; } = 3000;

    /// <summary>How far calibration may raise a threshold, as a multiple of <see cref="Threshold"/> (at most <see cref="ScoreClip"/>).</summary>
    public double MaxCalibration { get; init; } = 1.9;

    /// <summary>Each score enters the smoothed score clipped to this multiple of <see cref="Threshold"/>.</summary>
    public double ScoreClip { get; init; } = 2;

    /// <summary>Whether the detector works on log(1 + max(reading, 0)): for positive, heavy-tailed series.</summary>
    public bool LogTransform { get; init; }

    /// <summary>Readings learned before any is scored.</summary>
    public int WarmUp { get; init; } = 12;

    /// <summary>The time zone of the hour-of-day and hour-of-week profiles and the night hours.</summary>
    public TimeZoneInfo TimeZone { get; init; } = TimeZoneInfo.Utc;

    /// <summary>The smallest scale, relative to the expected value (so a very regular series does not alert on noise).</summary>
    public double MinRelativeScale { get; init; } = 0.02;

    /// <summary>The smallest scale in the series' unit.</summary>
    public double MinAbsoluteScale { get; init; } = 1e-6;

    /// <summary>The EWMA weight of a new reading in the short-term level and the profiles' offsets.</summary>
    public double LevelAlpha { get; init; } = 0.1;

    /// <summary>The EWMA weight of a finished pass in its hour's profile bucket.</summary>
    public double ProfileAlpha { get; init; } = 0.3;

    /// <summary>The EWMA weight of a new error in each predictor's noise scale (its memory is about the inverse, in readings).</summary>
    public double ScaleAlpha { get; init; } = 0.01;

    /// <summary>Past passes an hour bucket needs before its profile predicts.</summary>
    public int MinPasses { get; init; } = 1;
}

/// <summary>
/// An online anomaly detector for any single numeric series, one reading at a time, in constant time and memory.
/// Three predictors run side by side: the short-term level (EWMA), an hour-of-day profile and an hour-of-week profile
/// (each the EWMA of its hour's past passes plus a short-term drift); the one with the smallest recent absolute
/// error gives the expected value, and its error the noise scale (with the hour's own spread and a floor). Each
/// reading gets a score, deviation over scale; the score, clipped and smoothed, against a threshold that calibrates
/// itself per direction to how often the series reaches it, opens episodes only when sustained; optionally a new
/// extreme (a reading beyond all before it) opens one too. A stuck meter and night consumption are separate episodes.
/// </summary>
/// <remarks>Pure: it keeps nothing itself; every call reads and changes the <see cref="SeriesAnomalyState"/> passed in.</remarks>
public sealed class SeriesAnomalyDetector
{
    private const double AbsToSigma = 1.25; // mean absolute deviation to standard deviation, for normal noise
    private const int Predictors = 3;
    private const int LevelPredictor = 0;
    private const int DayPredictor = 1;
    private const int WeekPredictor = 2;
    private const int MinErrors = 24;
    private const int MaxPasses = 1000;
    private const int CalibrationBins = 40;
    private readonly SeriesAnomalyOptions _options;
    private readonly double _weightGrowth;

    /// <summary>A detector with these options.</summary>
    public SeriesAnomalyDetector(SeriesAnomalyOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _weightGrowth = 1 / (1 - (1.0 / Math.Max(2, options.CalibrationReadings)));
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
        List<SeriesAnomalySignal>? signals = null;
        var local = TimeZoneInfo.ConvertTime(time, _options.TimeZone);
        var hour = local.Hour;
        var weekBucket = (((int)local.DayOfWeek + 6) % 7 * 24) + hour;
        var first = state.Count == 0;

        Stuck(state, t, reading, first, ref signals);

        var day = state.DayPasses[hour] >= _options.MinPasses ? state.DayMeans[hour] + state.DayOffset : double.NaN;
        var week = state.WeekPasses[weekBucket] >= _options.MinPasses ? state.WeekMeans[weekBucket] + state.WeekOffset : double.NaN;
        // While an episode is open the predictor stays the one that saw it start: the anomaly must not pick its own judge.
        var chosen = state.Deviation.Open && Available(state.Predictor, day, week) ? state.Predictor : Choose(state, day, week);
        state.Predictor = chosen;
        var expected = chosen switch { DayPredictor => day, WeekPredictor => week, _ => state.Level };
        var spread = chosen == LevelPredictor ? 0 : state.DaySpreads[hour];
        var noise = state.ErrorCounts[chosen] > 0 ? state.Errors[chosen] : state.Errors[LevelPredictor];
        var scale = Math.Max(AbsToSigma * Math.Max(noise, spread), Floor(expected));
        var score = first ? 0 : (value - expected) / scale;
        var warm = state.Count >= _options.WarmUp;
        if (warm)
        {
            var limit = _options.ScoreClip * _options.Threshold;
            state.SmoothedScore += _options.ScoreAlpha * (Math.Clamp(score, -limit, limit) - state.SmoothedScore);
            var smoothed = state.SmoothedScore;
            var threshold = CalibratedThreshold(state, smoothed >= 0 ? 0 : CalibrationBins);
            var anomalous = Math.Abs(smoothed) >= threshold && Math.Sign(score) == Math.Sign(smoothed);
            var quiet = !state.Deviation.Open && state.LastEpisodeMs != long.MinValue && t - state.LastEpisodeMs < _options.QuietAfter.TotalMilliseconds;
            var deviates = anomalous && !quiet;
            var beyond = BeyondRange(state, value);
            var wasOpen = state.Deviation.Open;
            Step(state.Deviation, SeriesAnomalyKind.Deviation, deviates || beyond != 0, deviates ? Math.Sign(smoothed) : beyond, score, Back(expected), t, _options.Threshold, ref signals);
            if (state.Deviation.Open && !wasOpen && deviates)
            {
                state.LastEpisodeMs = state.Deviation.StartMs;
            }

            Calibrate(state, smoothed);
        }

        Night(state, hour, warm, value, t, ref signals);
        (state.RangeLow, state.RangeHigh) = first ? (value, value) : (Math.Min(state.RangeLow, value), Math.Max(state.RangeHigh, value));

        // Learn. Each predictor's error and the level, drift and profile take the reading winsorized at the threshold,
        // so an anomaly moves them only a little; the profile takes each finished pass through an hour, so the hour
        // under way never makes itself normal. A stuck meter teaches nothing.
        if (!state.Stuck.Open)
        {
            var limit = _options.Threshold * scale;
            var clipped = first ? value : Math.Clamp(value, expected - limit, expected + limit);
            if (!first)
            {
                LearnError(state, LevelPredictor, Math.Abs(clipped - state.Level), limit);
                if (!double.IsNaN(day))
                {
                    LearnError(state, DayPredictor, Math.Abs(clipped - day), limit);
                    state.DayOffset += _options.LevelAlpha * (Math.Clamp(clipped - state.DayMeans[hour], -scale, scale) - state.DayOffset);
                }

                if (!double.IsNaN(week))
                {
                    LearnError(state, WeekPredictor, Math.Abs(clipped - week), limit);
                    state.WeekOffset += _options.LevelAlpha * (Math.Clamp(clipped - state.WeekMeans[weekBucket], -scale, scale) - state.WeekOffset);
                }
            }

            Pass(state, t, weekBucket, value, clipped);
            state.Level = first ? value : state.Level + (_options.LevelAlpha * (clipped - state.Level));
            state.Count++;
        }

        state.LastTimeMs = t;
        state.LastValue = reading;
        return signals ?? (IReadOnlyList<SeriesAnomalySignal>)[];
    }

    /// <summary>+1 when the reading is above the highest before it by more than the range tolerance, −1 when below the lowest, else 0.</summary>
    private int BeyondRange(SeriesAnomalyState state, double value)
    {
        var tolerance = _options.RangeTolerance;
        if (tolerance <= 0 || state.RangeHigh <= state.RangeLow)
        {
            return 0;
        }

        var margin = tolerance * (state.RangeHigh - state.RangeLow);
        return value > state.RangeHigh + margin ? 1 : value < state.RangeLow - margin ? -1 : 0;
    }

    private static bool Available(int predictor, double day, double week) => predictor switch
    {
        DayPredictor => !double.IsNaN(day),
        WeekPredictor => !double.IsNaN(week),
        _ => predictor == LevelPredictor,
    };

    /// <summary>
    /// The predictor with the smallest recent error among those that predict now (the level always does). A profile
    /// with few errors so far is judged by its errors shrunk toward the level's (a profile that has just learned its
    /// first pass is trusted as much as the level, and wins a tie: yesterday's same hour foresees a daily step).
    /// </summary>
    private static int Choose(SeriesAnomalyState state, double day, double week)
    {
        var chosen = LevelPredictor;
        var best = state.Errors[LevelPredictor];
        foreach (var (predictor, prediction) in new[] { (DayPredictor, day), (WeekPredictor, week) })
        {
            if (double.IsNaN(prediction))
            {
                continue;
            }

            var n = Math.Min(state.ErrorCounts[predictor], MinErrors);
            var error = ((n * state.Errors[predictor]) + ((MinErrors - n) * state.Errors[LevelPredictor])) / MinErrors;
            if (error <= best && (predictor == DayPredictor || error < best))
            {
                chosen = predictor;
                best = error;
            }
        }

        return chosen;
    }

    private void LearnError(SeriesAnomalyState state, int predictor, double error, double limit)
    {
        // An episode judged by a profile is not noise: learning its errors would widen the scale until the anomaly
        // looked normal. Only once it has lasted AdaptAfter does it start to become the new normal. (The level
        // predictor's episodes are changes of level: they end as the level catches up.)
        if (state.Deviation.Open && state.Predictor != LevelPredictor && state.LastTimeMs - state.Deviation.StartMs < _options.AdaptAfter.TotalMilliseconds)
        {
            return;
        }

        var n = ++state.ErrorCounts[predictor];
        var alpha = Math.Max(_options.ScaleAlpha, 1.0 / n);
        state.Errors[predictor] += alpha * (Math.Min(error, limit) - state.Errors[predictor]);
    }

    private void Night(SeriesAnomalyState state, int hour, bool warm, double value, long t, ref List<SeriesAnomalySignal>? signals)
    {
        if (!IsNight(hour))
        {
            if (state.NightUse.Open || state.NightUse.Anomalous > 0)
            {
                Step(state.NightUse, SeriesAnomalyKind.NightConsumption, false, 1, 0, 0, t, _options.NightThreshold, ref signals);
            }

            return;
        }

        var nightScale = Math.Max(AbsToSigma * state.NightSpread, Floor(state.NightMean));
        if (warm && state.NightCount >= 6)
        {
            var nightScore = (value - state.NightMean) / nightScale;
            Step(state.NightUse, SeriesAnomalyKind.NightConsumption, nightScore >= _options.NightThreshold, 1, nightScore, Back(state.NightMean), t, _options.NightThreshold, ref signals);
        }

        if (state.Stuck.Open)
        {
            return;
        }

        // The night baseline learns slowly (a reading in 50) and winsorized, so a night of heavy use stays abnormal.
        state.NightCount++;
        var alpha = Math.Max(0.02, 1.0 / state.NightCount);
        var clipped = state.NightCount == 1 ? value : Math.Clamp(value, state.NightMean - (_options.NightThreshold * nightScale), state.NightMean + (_options.NightThreshold * nightScale));
        state.NightSpread += alpha * (Math.Abs(clipped - state.NightMean) - state.NightSpread);
        state.NightMean += alpha * (clipped - state.NightMean);
    }

    private double CalibratedThreshold(SeriesAnomalyState state, int offset)
    {
        if (_options.CalibratedRate <= 0 || state.Scored < _options.CalibrationReadings / 4)
        {
            return _options.Threshold;
        }

        var histogram = state.ScoreHistogram.AsSpan(offset, CalibrationBins);
        var total = 0.0;
        foreach (var weight in histogram)
        {
            total += weight;
        }

        // The lowest bin edge with at most the calibrated share of the readings at or above it.
        var allowed = _options.CalibratedRate * total;
        var above = 0.0;
        var width = _options.ScoreClip * _options.Threshold / CalibrationBins;
        var edge = _options.ScoreClip * _options.Threshold;
        for (var i = CalibrationBins - 1; i >= 0; i--)
        {
            if (above + histogram[i] > allowed)
            {
                break;
            }

            above += histogram[i];
            edge = i * width;
        }

        return Math.Clamp(edge, _options.Threshold, _options.MaxCalibration * _options.Threshold);
    }

    private void Calibrate(SeriesAnomalyState state, double smoothed)
    {
        if (_options.CalibratedRate <= 0)
        {
            return;
        }

        // Instead of decaying every bin, each new reading weighs more; rescale before the weights overflow.
        var histogram = state.ScoreHistogram;
        if (state.ScoreWeight > 1e200)
        {
            for (var i = 0; i < histogram.Length; i++)
            {
                histogram[i] /= state.ScoreWeight;
            }

            state.ScoreWeight = 1;
        }

        var bin = (int)Math.Min(CalibrationBins - 1, Math.Abs(smoothed) / (_options.ScoreClip * _options.Threshold) * CalibrationBins);
        var (same, other) = smoothed >= 0 ? (0, CalibrationBins) : (CalibrationBins, 0);
        histogram[same + bin] += state.ScoreWeight;
        histogram[other] += state.ScoreWeight;
        state.ScoreWeight *= _weightGrowth;
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

    private void Stuck(SeriesAnomalyState state, long t, double value, bool first, ref List<SeriesAnomalySignal>? signals)
    {
        var episode = state.Stuck;
        if (!first && Math.Abs(value - state.LastValue) <= _options.StuckTolerance)
        {
            state.FlatSinceMs ??= state.LastTimeMs;
            state.FlatCount++;
            var stuckFor = Math.Max(_options.StuckFor.TotalMilliseconds, _options.StuckRoutineFactor * state.LongestFlatMs);
            var spans = (t - state.FlatSinceMs.Value) / stuckFor;
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
                (signals ??= []).Add(new SeriesAnomalySignal(SeriesAnomalyKind.Stuck, SeriesSignalAction.Start, episode.StartMs, severity, spans, value));
            }
            else if (severity > episode.Severity)
            {
                episode.Severity = severity;
                (signals ??= []).Add(new SeriesAnomalySignal(SeriesAnomalyKind.Stuck, SeriesSignalAction.Escalate, episode.StartMs, severity, spans, value));
            }

            return;
        }

        if (state.FlatSinceMs is { } since)
        {
            // A flat stretch that ended: the series has such stretches routinely (unless it was stuck for days).
            var span = state.LastTimeMs - since;
            if (span < 4 * _options.StuckFor.TotalMilliseconds)
            {
                state.LongestFlatMs = Math.Max(state.LongestFlatMs, span);
            }
        }

        state.FlatSinceMs = null;
        state.FlatCount = 0;
        if (episode.Open)
        {
            episode.Open = false;
            (signals ??= []).Add(new SeriesAnomalySignal(SeriesAnomalyKind.Stuck, SeriesSignalAction.End, episode.StartMs, episode.Severity, 0, value));
        }
    }

    private void Step(EpisodeState episode, SeriesAnomalyKind kind, bool anomalous, int direction, double score, double expected, long t, double threshold, ref List<SeriesAnomalySignal>? signals)
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
                    (signals ??= []).Add(new SeriesAnomalySignal(kind, SeriesSignalAction.Start, episode.StartMs, episode.Severity, score, expected));
                }
            }
            else
            {
                var severity = SeverityFor(score, threshold);
                if (severity > episode.Severity)
                {
                    episode.Severity = severity;
                    (signals ??= []).Add(new SeriesAnomalySignal(kind, SeriesSignalAction.Escalate, episode.StartMs, severity, score, expected));
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
            (signals ??= []).Add(new SeriesAnomalySignal(kind, SeriesSignalAction.End, episode.StartMs, episode.Severity, score, expected));
        }
    }

    /// <summary>
    /// Adds a reading to the current pass through an hour bucket. When the hour changes (or an hour has gone by), the
    /// pass's mean goes into its hour-of-week and hour-of-day buckets, and its spread around the hour-of-day mean into
    /// that bucket's spread: the profile learns one value per past pass, so readings of the hour under way never make
    /// themselves normal. The spread takes the reading winsorized (<paramref name="clipped"/>), so excursions do not
    /// widen the hour's scale until they look routine.
    /// </summary>
    private void Pass(SeriesAnomalyState state, long t, int weekBucket, double value, double clipped)
    {
        if (state.PassCount > 0 && (weekBucket != state.PassBucket || t - state.PassStartMs >= 3_600_000))
        {
            var mean = state.PassSum / state.PassCount;
            var hour = state.PassBucket % 24;
            Learn(state.WeekMeans, state.WeekPasses, state.PassBucket, mean);
            if (state.DayPasses[hour] > 0)
            {
                var spread = state.PassSpread / state.PassCount;
                state.DaySpreads[hour] += (state.DayPasses[hour] == 1 ? 1 : _options.ProfileAlpha) * (spread - state.DaySpreads[hour]);
            }

            Learn(state.DayMeans, state.DayPasses, hour, mean);
            state.PassCount = 0;
            state.PassSum = 0;
            state.PassSpread = 0;
        }

        if (state.PassCount == 0)
        {
            state.PassBucket = weekBucket;
            state.PassStartMs = t;
        }

        state.PassSum += value;
        state.PassSpread += state.DayPasses[weekBucket % 24] > 0 ? Math.Abs(clipped - state.DayMeans[weekBucket % 24]) : 0;
        state.PassCount++;
    }

    private void Learn(double[] means, int[] passes, int bucket, double mean)
    {
        passes[bucket] = Math.Min(MaxPasses, passes[bucket] + 1);
        means[bucket] += Math.Max(_options.ProfileAlpha, 1.0 / passes[bucket]) * (mean - means[bucket]);
    }

    private static void EnsureShape(SeriesAnomalyState state)
    {
        if (state.Errors.Length != Predictors || state.ErrorCounts.Length != Predictors)
        {
            state.Errors = new double[Predictors];
            state.ErrorCounts = new long[Predictors];
        }

        if (state.DayMeans.Length != 24 || state.DaySpreads.Length != 24 || state.DayPasses.Length != 24)
        {
            state.DayMeans = new double[24];
            state.DaySpreads = new double[24];
            state.DayPasses = new int[24];
        }

        if (state.WeekMeans.Length != 168 || state.WeekPasses.Length != 168)
        {
            state.WeekMeans = new double[168];
            state.WeekPasses = new int[168];
        }

        if (state.ScoreHistogram.Length != 2 * CalibrationBins)
        {
            state.ScoreHistogram = new double[2 * CalibrationBins];
            state.ScoreWeight = 1;
        }
    }
}
