using Kommune.Connectors.Simulation;

namespace Kommune.Connectors.Tests;

public sealed class RecordedSeriesTests : IDisposable
{
    private readonly string _file = Path.GetTempFileName();

    [Fact]
    public void A_series_becomes_events_of_one_sensor_ending_at_the_given_time_with_gaps_kept()
    {
        File.WriteAllLines(_file, ["timestamp,value", "2015-08-31 18:22:00,90", "2015-08-31 18:32:00,80.5", "", "2015-08-31 18:52:00,71"]);
        var end = new DateTimeOffset(2026, 11, 27, 12, 0, 0, TimeSpan.Zero);

        var events = RecordedSeries.Load(_file).ToEvents("s", "a", "traffic", "speed", end).ToList();

        Assert.Equal(3, events.Count);
        Assert.Equal([end.AddMinutes(-30), end.AddMinutes(-20), end], events.Select(e => e.Timestamp));
        Assert.Equal([90, 80.5, 71], events.Select(e => e.Values["speed"].Number));
        Assert.All(events, e => Assert.Equal(("s", "a", "traffic"), (e.SensorId, e.AreaId, e.Type)));
    }

    [Theory]
    [InlineData("2015-08-31 18:22:00;90")]
    [InlineData("yesterday,90")]
    [InlineData("2015-08-31 18:22:00,fast")]
    [InlineData("2015-08-31 18:22:00,NaN")]
    public void A_bad_line_is_refused_with_file_and_line_number(string line)
    {
        File.WriteAllLines(_file, ["timestamp,value", "2015-08-31 18:12:00,91", line]);

        var error = Assert.Throws<FormatException>(() => RecordedSeries.Load(_file));

        Assert.Contains($"{_file}:3:", error.Message, StringComparison.Ordinal);
    }

    public void Dispose() => File.Delete(_file);
}
