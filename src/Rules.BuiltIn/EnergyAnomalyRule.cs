using System.Globalization;
using Kommune.Rules.Api;
using Kommune.Rules.Model;

namespace Kommune.Rules.BuiltIn;

/// <summary>
/// Watches one numeric value of each sensor (default <c>kw</c>) with a <see cref="SeriesAnomalyDetector"/> and raises
/// alerts in category <c>energy</c>: <c>energy-anomaly</c> for a sustained spike or drop, <c>stuck-meter</c> for a
/// reading that does not change, <c>night-consumption</c> for use in the night hours well above the night baseline.
/// One incident per episode (<c>kind:startMs</c>); its severity is updated as it grows; it resolves when the series
/// is normal again. Handles any sensor type: the rules file names the types.
/// </summary>
/// <remarks>
/// Parameters: <c>value</c> ("kw"), <c>threshold</c> (4, robust score), <c>minConsecutive</c> (3 readings),
/// <c>minSpan</c> ("30m"), <c>resolveAfter</c> ("30m"), <c>stuckFor</c> ("6h"), <c>stuckTolerance</c> (0),
/// <c>nightHours</c> ("00-05", or "" for none), <c>nightThreshold</c> (4), <c>smoothing</c> (0.4, EWMA weight of
/// the score), <c>logScale</c> (false: score log(1 + reading) for heavy-tailed series), <c>warmUp</c> (12 readings),
/// <c>quietAfter</c> (none: after a deviation alert starts, no other starts for this long), <c>adaptAfter</c> ("6h": a
/// deviation from the hour's profile lasting longer starts to become the new normal), <c>rangeTolerance</c> (0, off: a
/// reading beyond all readings before it by more than this share of their range is anomalous), <c>scoreClip</c> (2: each
/// score enters the smoothed score clipped to this × threshold), <c>maxCalibration</c> (1.9, at most <c>scoreClip</c>:
/// how far calibration may raise the threshold), <c>scaleMemory</c> (100 readings: the noise scale's memory),
/// <c>calibratedRate</c> (0.01: the share of
/// readings per direction a series may spend above its deviation threshold before the threshold rises; 0 turns
/// calibration off), <c>calibrationReadings</c> (3000, the calibration's memory), <c>timeZone</c> ("UTC", an IANA
/// id such as "Europe/Oslo").
/// </remarks>
[Rule(RuleName)]
public sealed class EnergyAnomalyRule : Rule
{
    /// <summary>The rule's name in rules files.</summary>
    public const string RuleName = "energy-anomaly";

    /// <summary>
    /// The alerts' category, our own: FIWARE's Alert categories (traffic, naturalDisaster, weather, environment, health,
    /// security, agriculture) have none for a utility's meters.
    /// </summary>
    public const string Category = "energy";

    /// <summary>The state name of the detector's state.</summary>
    public const string StateName = "detector";

    private readonly string _valueName;
    private readonly SeriesAnomalyDetector _detector;

    /// <summary>Reads and checks the parameters.</summary>
    /// <exception cref="RuleParameterException">A parameter is wrong.</exception>
    public EnergyAnomalyRule(RuleParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _valueName = parameters.GetText("value", "kw");
        if (string.IsNullOrWhiteSpace(_valueName))
        {
            throw new RuleParameterException("value", "must name a value, not be empty");
        }

        var threshold = parameters.GetNumber("threshold", 4, min: 1, max: 100);
        var minConsecutive = parameters.GetInteger("minConsecutive", 3, min: 1, max: 10_000);
        var minSpan = parameters.GetDuration("minSpan", TimeSpan.FromMinutes(30));
        var resolveAfter = parameters.GetDuration("resolveAfter", TimeSpan.FromMinutes(30));
        var stuckFor = parameters.GetDuration("stuckFor", TimeSpan.FromHours(6));
        var stuckTolerance = parameters.GetNumber("stuckTolerance", 0, min: 0);
        var (nightStart, nightEnd) = ParseNightHours(parameters.GetText("nightHours", "00-05"));
        var nightThreshold = parameters.GetNumber("nightThreshold", 4, min: 1, max: 100);
        var smoothing = parameters.GetNumber("smoothing", 0.4, min: 0.05, max: 1);
        var quietAfter = parameters.GetDuration("quietAfter", TimeSpan.Zero);
        var adaptAfter = parameters.GetDuration("adaptAfter", TimeSpan.FromHours(6));
        var rangeTolerance = parameters.GetNumber("rangeTolerance", 0, min: 0, max: 10);
        var scoreClip = parameters.GetNumber("scoreClip", 2, min: 1, max: 10);
        var maxCalibration = parameters.GetNumber("maxCalibration", 1.9, min: 1, max: scoreClip);
        var scaleMemory = parameters.GetInteger("scaleMemory", 100, min: 2, max: 1_000_000);
        var logScale = parameters.GetBoolean("logScale", false);
        var warmUp = parameters.GetInteger("warmUp", 12, min: 1, max: 100_000);
        var calibratedRate = parameters.GetNumber("calibratedRate", 0.01, min: 0, max: 0.5);
        var calibrationReadings = parameters.GetInteger("calibrationReadings", 3000, min: 100, max: 1_000_000);
        var timeZone = parameters.GetTimeZone("timeZone", "UTC");

        _detector = new SeriesAnomalyDetector(new SeriesAnomalyOptions
        {
            Threshold = threshold,
            MinConsecutive = minConsecutive,
            MinSpan = minSpan,
            ResolveAfter = resolveAfter,
            StuckFor = stuckFor,
            StuckTolerance = stuckTolerance,
            NightStartHour = nightStart,
            NightEndHour = nightEnd,
            NightThreshold = nightThreshold,
            WarmUp = warmUp,
            ScoreAlpha = smoothing,
            LogTransform = logScale,
            QuietAfter = quietAfter,
            AdaptAfter = adaptAfter,
            RangeTolerance = rangeTolerance,
            MaxCalibration = maxCalibration,
            ScoreClip = scoreClip,
            ScaleAlpha = 1.0 / scaleMemory,
            TimeZone = timeZone,
            CalibratedRate = calibratedRate,
            CalibrationReadings = calibrationReadings,
        });
    }

    /// <summary>The detector's options, as read from the parameters.</summary>
    public SeriesAnomalyOptions Options => _detector.Options;

    /// <inheritdoc />
    public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(sensorEvent);
        if (!sensorEvent.TryGetNumber(_valueName, out var value))
        {
            return;
        }

        var state = context.State<SeriesAnomalyState>(StateName);
        var detector = state.Value ?? new SeriesAnomalyState();
        var signals = _detector.Observe(detector, sensorEvent.Timestamp, value);
        state.Update(detector);
        foreach (var signal in signals)
        {
            Report(context, sensorEvent, value, signal);
        }
    }

    /// <summary>
    /// The alert subCategory of a kind of anomaly, our own (FIWARE's Alert has no subCategory for meters or
    /// consumption); also the start of the incident, so changing one would change alert ids.
    /// </summary>
    public static string SubCategory(SeriesAnomalyKind kind) => kind switch
    {
        SeriesAnomalyKind.Stuck => "stuck-meter",
        SeriesAnomalyKind.NightConsumption => "night-consumption",
        _ => "energy-anomaly",
    };

    /// <summary>The incident of an episode: its kind and start in Unix milliseconds.</summary>
    public static string Incident(SeriesAnomalyKind kind, long episodeStartMs) =>
        SubCategory(kind) + ":" + episodeStartMs.ToString(CultureInfo.InvariantCulture);

    private void Report(IRuleContext context, SensorEvent sensorEvent, double value, SeriesAnomalySignal signal)
    {
        var incident = Incident(signal.Kind, signal.EpisodeStartMs);
        var subCategory = SubCategory(signal.Kind);
        if (signal.Action == SeriesSignalAction.End)
        {
            context.ResolveAlert(incident, string.Create(CultureInfo.InvariantCulture,
                $"{_valueName} of sensor {sensorEvent.SensorId} is back to normal ({value:0.###})"));
            return;
        }

        var what = signal.Kind switch
        {
            SeriesAnomalyKind.Stuck => string.Create(CultureInfo.InvariantCulture,
                $"{_valueName} of sensor {sensorEvent.SensorId} has not changed from {value:0.###} since {DateTimeOffset.FromUnixTimeMilliseconds(signal.EpisodeStartMs):u}"),
            SeriesAnomalyKind.NightConsumption => string.Create(CultureInfo.InvariantCulture,
                $"{_valueName} of sensor {sensorEvent.SensorId} at night is {value:0.###}, night baseline {signal.Expected:0.###} (score {signal.Score:0.0})"),
            _ => string.Create(CultureInfo.InvariantCulture,
                $"{_valueName} of sensor {sensorEvent.SensorId} is {(signal.Score >= 0 ? "above" : "below")} normal: {value:0.###}, expected {signal.Expected:0.###} (score {signal.Score:0.0})"),
        };
        var draft = new AlertDraft(Category, subCategory, signal.Severity, what)
        {
            Evidence = new Dictionary<string, SensorValue>(StringComparer.Ordinal)
            {
                [_valueName] = value,
                ["expected"] = signal.Expected,
                ["score"] = signal.Score,
            },
        };
        if (signal.Action == SeriesSignalAction.Start)
        {
            context.RaiseAlert(incident, draft);
        }
        else
        {
            context.UpdateAlert(incident, draft, AlertStatus.Escalated);
        }
    }

    private static (int? Start, int End) ParseNightHours(string text)
    {
        if (string.IsNullOrWhiteSpace(text) || text.Equals("none", StringComparison.OrdinalIgnoreCase))
        {
            return (null, 0);
        }

        var parts = text.Split('-');
        if (parts.Length == 2
            && int.TryParse(parts[0].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var start)
            && int.TryParse(parts[1].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var end)
            && start is >= 0 and <= 23 && end is >= 0 and <= 24 && start != end)
        {
            return (start, end);
        }

        throw new RuleParameterException("nightHours", $"must be hours such as \"00-05\" or \"22-06\" (or \"none\"), not \"{text}\"");
    }
}
