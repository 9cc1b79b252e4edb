using Kommune.Rules.Model;

namespace Kommune.Engine.Tests.Support;

/// <summary>Test events.</summary>
internal static class Events
{
    public static readonly DateTimeOffset T0 = DateTimeOffset.UtcNow.AddHours(-2);

    public static SensorEvent Fall(string sensorId, string areaId, int second) =>
        new(sensorId, areaId, SensorTypes.Fall, T0.AddSeconds(second), new Dictionary<string, SensorValue>
        {
            ["confidence"] = 0.97,
            ["posture"] = "lying",
        });

    public static SensorEvent Traffic(string sensorId, string areaId, int second) =>
        new(sensorId, areaId, SensorTypes.Traffic, T0.AddSeconds(second), new Dictionary<string, SensorValue>
        {
            ["speed"] = 42.5,
            ["flow"] = 900,
            ["occupancy"] = 18.0,
        });

    public static string AlertId(SensorEvent fall) => $"fall-detection:{fall.SensorId}:{fall.Timestamp.ToUnixTimeMilliseconds()}";
}
