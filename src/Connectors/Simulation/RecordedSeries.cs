using System.Globalization;
using Kommune.Rules.Model;

namespace Kommune.Connectors.Simulation;

/// <summary>One reading of a recorded series.</summary>
/// <param name="Time">When it was recorded (as written in the file, taken as UTC).</param>
/// <param name="Value">The reading.</param>
public readonly record struct RecordedReading(DateTime Time, double Value);

/// <summary>
/// A recorded sensor series in the CSV form of the Numenta Anomaly Benchmark (header <c>timestamp,value</c>,
/// timestamps <c>yyyy-MM-dd HH:mm:ss</c>, ascending), replayed as the events of one sensor. Real data for demos and
/// tests: ../shared/data/nab.
/// </summary>
public sealed class RecordedSeries
{
    private static readonly string[] TimeFormats = ["yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm:ss.ffffff"];

    private RecordedSeries(IReadOnlyList<RecordedReading> readings) => Readings = readings;

    /// <summary>The readings, in file order.</summary>
    public IReadOnlyList<RecordedReading> Readings { get; }

    /// <summary>Reads a series file.</summary>
    /// <exception cref="FormatException">A line is not <c>timestamp,value</c>; the message names the file and line.</exception>
    public static RecordedSeries Load(string path)
    {
        var readings = new List<RecordedReading>();
        var lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (lineNumber == 1 && line.StartsWith("timestamp", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            var comma = line.IndexOf(',', StringComparison.Ordinal);
            if (comma < 0
                || !DateTime.TryParseExact(line.AsSpan(0, comma), TimeFormats, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var time)
                || !double.TryParse(line.AsSpan(comma + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
                || !double.IsFinite(value))
            {
                throw new FormatException($"{path}:{lineNumber}: expected 'yyyy-MM-dd HH:mm:ss,number', found '{line}'");
            }

            readings.Add(new RecordedReading(time, value));
        }

        return new RecordedSeries(readings);
    }

    /// <summary>
    /// The series as events of one sensor, shifted in time so that the last reading is at <paramref name="endAt"/>
    /// (keeping the gaps between readings), each with the reading under <paramref name="valueName"/>.
    /// </summary>
    public IEnumerable<SensorEvent> ToEvents(string sensorId, string areaId, string type, string valueName, DateTimeOffset endAt)
    {
        if (Readings.Count == 0)
        {
            yield break;
        }

        var shift = endAt.UtcDateTime - Readings[^1].Time;
        foreach (var reading in Readings)
        {
            yield return new SensorEvent(sensorId, areaId, type, new DateTimeOffset(reading.Time + shift, TimeSpan.Zero),
                new Dictionary<string, SensorValue> { [valueName] = reading.Value });
        }
    }
}
