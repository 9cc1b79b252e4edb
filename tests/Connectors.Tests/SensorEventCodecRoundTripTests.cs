using System.Text;
using System.Text.Json;
using Kommune.Connectors.Codecs;
using Kommune.Rules.Model;
using Microsoft.Extensions.Time.Testing;

namespace Kommune.Connectors.Tests;

public sealed class SensorEventCodecRoundTripTests
{
    private static readonly DateTimeOffset Now = new(2024, 5, 1, 12, 0, 0, TimeSpan.Zero);

    private static SensorEvent Decode(byte[] value, string key)
    {
        // The whole range the contract can carry (from epoch 0): the earliest-event-time limit has tests of its own.
        var decoder = new SensorEventDecoder(SensorEventLimits.Default with { EarliestEventTime = DateTimeOffset.UnixEpoch }, new FakeTimeProvider(Now));
        Assert.True(decoder.TryDecode(Encoding.UTF8.GetBytes(key), value, out var decoded, out var failure), failure.Text);
        Assert.NotNull(decoded);
        return decoded;
    }

    private static void AssertSameEvent(SensorEvent expected, SensorEvent actual)
    {
        Assert.Equal(expected.SensorId, actual.SensorId);
        Assert.Equal(expected.AreaId, actual.AreaId);
        Assert.Equal(expected.Type, actual.Type);
        Assert.Equal(expected.Timestamp, actual.Timestamp);
        Assert.Equal(expected.Values.Count, actual.Values.Count);
        foreach (var (name, value) in expected.Values)
        {
            Assert.True(actual.Values.TryGetValue(name, out var other), $"value '{name}' is missing after the round trip");
            Assert.Equal(value, other);
        }
    }

    private static SensorEvent[] SampleEvents() =>
    [
        new SensorEvent("fall-000001", "area-001", SensorTypes.Fall, new DateTimeOffset(2024, 5, 1, 10, 0, 0, 123, TimeSpan.Zero),
            new Dictionary<string, SensorValue> { ["confidence"] = 0.937, ["posture"] = "lying", ["inactivitySeconds"] = 42 }),
        new SensorEvent("traffic-000002", "area-002", SensorTypes.Traffic, new DateTimeOffset(2024, 5, 1, 11, 30, 0, 5, TimeSpan.FromHours(1)),
            new Dictionary<string, SensorValue> { ["speed"] = 0.1 + 0.2, ["flow"] = 1e15, ["occupancy"] = -3.25, ["tiny"] = double.Epsilon, ["max"] = double.MaxValue }),
        new SensorEvent("parking-æøå", "område \"nord\"\\sør", SensorTypes.Parking, DateTimeOffset.FromUnixTimeMilliseconds(0),
            new Dictionary<string, SensorValue> { ["occupied"] = true, ["reserved"] = false, ["note"] = "line1\nline2 <&> \u00e9 \U0001F697" }),
        new SensorEvent("energy-1", "a", SensorTypes.Energy, new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero).AddDays(-3650),
            new Dictionary<string, SensorValue>()),
    ];

    public static TheoryData<SensorEvent> Events() => new(SampleEvents());

    [Theory]
    [MemberData(nameof(Events))]
    public void Encoded_event_decodes_to_an_equal_event(SensorEvent original)
    {
        var decoded = Decode(SensorEventEncoder.Encode(original), original.SensorId);

        AssertSameEvent(original, decoded);
    }

    [Fact]
    public void Encoded_event_is_byte_identical_after_a_second_round_trip()
    {
        var original = SampleEvents()[0];
        var first = SensorEventEncoder.Encode(original);

        var second = SensorEventEncoder.Encode(Decode(first, original.SensorId));

        Assert.Equal(first, second);
    }

    private static Alert SampleAlert(string? sensorId = "fall-000001") => new(
        AlertId: "fall-detection:fall-000001:1714557600123",
        Rule: "fall-detection",
        Category: "health",
        SubCategory: "fallenPatient",
        Severity: AlertSeverity.Critical,
        Status: AlertStatus.Raised,
        Level: 1,
        SensorId: sensorId,
        AreaId: "area-001",
        EventTime: new DateTimeOffset(2024, 5, 1, 12, 0, 0, 123, TimeSpan.FromHours(2)),
        DateIssued: new DateTimeOffset(2024, 5, 1, 10, 0, 1, 0, TimeSpan.Zero),
        Description: "Fall detected by sensor fall-000001 in area area-001",
        Evidence: new Dictionary<string, SensorValue> { ["posture"] = "lying", ["confidence"] = 0.95, ["worn"] = true });

    [Fact]
    public void Alert_encodes_with_exactly_the_fiware_style_property_names()
    {
        using var doc = JsonDocument.Parse(OutputCodec.Encode(SampleAlert()));

        var names = doc.RootElement.EnumerateObject().Select(p => p.Name).ToArray();
        Assert.Equal(
            ["alertId", "sequence", "rule", "category", "subCategory", "severity", "status", "level", "sensorId", "areaId", "eventTime", "dateIssued", "description", "recipients", "evidence"],
            names);
    }

    [Fact]
    public void Alert_encodes_its_fields_with_lower_case_enums_and_utc_times()
    {
        using var doc = JsonDocument.Parse(OutputCodec.Encode(SampleAlert()));
        var root = doc.RootElement;

        Assert.Equal("fall-detection:fall-000001:1714557600123", root.GetProperty("alertId").GetString());
        Assert.Equal("fall-detection", root.GetProperty("rule").GetString());
        Assert.Equal("health", root.GetProperty("category").GetString());
        Assert.Equal("fallenPatient", root.GetProperty("subCategory").GetString());
        Assert.Equal("critical", root.GetProperty("severity").GetString());
        Assert.Equal("raised", root.GetProperty("status").GetString());
        Assert.Equal(1, root.GetProperty("level").GetInt32());
        Assert.Equal("fall-000001", root.GetProperty("sensorId").GetString());
        Assert.Equal("area-001", root.GetProperty("areaId").GetString());
        Assert.Equal("2024-05-01T10:00:00.123Z", root.GetProperty("eventTime").GetString());
        Assert.Equal("2024-05-01T10:00:01.000Z", root.GetProperty("dateIssued").GetString());
        Assert.Equal("Fall detected by sensor fall-000001 in area area-001", root.GetProperty("description").GetString());

        var evidence = root.GetProperty("evidence");
        Assert.Equal(JsonValueKind.Object, evidence.ValueKind);
        Assert.Equal("lying", evidence.GetProperty("posture").GetString());
        Assert.Equal(0.95, evidence.GetProperty("confidence").GetDouble());
        Assert.True(evidence.GetProperty("worn").GetBoolean());
    }

    [Theory]
    [InlineData(AlertSeverity.Informational, AlertStatus.Escalated, "informational", "escalated")]
    [InlineData(AlertSeverity.Low, AlertStatus.Acknowledged, "low", "acknowledged")]
    [InlineData(AlertSeverity.Medium, AlertStatus.Resolved, "medium", "resolved")]
    [InlineData(AlertSeverity.High, AlertStatus.Raised, "high", "raised")]
    public void Every_severity_and_status_encodes_in_lower_case(AlertSeverity severity, AlertStatus status, string expectedSeverity, string expectedStatus)
    {
        using var doc = JsonDocument.Parse(OutputCodec.Encode(SampleAlert() with { Severity = severity, Status = status }));

        Assert.Equal(expectedSeverity, doc.RootElement.GetProperty("severity").GetString());
        Assert.Equal(expectedStatus, doc.RootElement.GetProperty("status").GetString());
    }

    [Fact]
    public void Area_alert_encodes_sensorId_as_null()
    {
        using var doc = JsonDocument.Parse(OutputCodec.Encode(SampleAlert(sensorId: null)));

        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("sensorId").ValueKind);
    }

    [Fact]
    public void Encoding_the_same_alert_twice_gives_byte_identical_output()
    {
        Assert.Equal(OutputCodec.Encode(SampleAlert()), OutputCodec.Encode(SampleAlert()));
    }

    [Fact]
    public void Alert_evidence_order_does_not_depend_on_insertion_order()
    {
        var forward = SampleAlert() with { Evidence = new Dictionary<string, SensorValue> { ["a"] = 1, ["b"] = "x", ["c"] = true } };
        var backward = SampleAlert() with { Evidence = new Dictionary<string, SensorValue> { ["c"] = true, ["b"] = "x", ["a"] = 1 } };

        Assert.Equal(OutputCodec.Encode(forward), OutputCodec.Encode(backward));
    }

    [Fact]
    public void Aggregate_encodes_with_area_metric_window_value_and_count()
    {
        var aggregate = new Aggregate(
            AreaId: "area-007",
            Metric: "parking.free",
            WindowStart: new DateTimeOffset(2024, 5, 1, 10, 0, 0, TimeSpan.Zero),
            WindowEnd: new DateTimeOffset(2024, 5, 1, 12, 1, 0, TimeSpan.FromHours(2)),
            Value: 12.5,
            Count: 40);

        var bytes = OutputCodec.Encode(aggregate);
        using var doc = JsonDocument.Parse(bytes);
        var root = doc.RootElement;

        Assert.Equal(
            ["areaId", "metric", "windowStart", "windowEnd", "value", "count"],
            root.EnumerateObject().Select(p => p.Name).ToArray());
        Assert.Equal("area-007", root.GetProperty("areaId").GetString());
        Assert.Equal("parking.free", root.GetProperty("metric").GetString());
        Assert.Equal("2024-05-01T10:00:00.000Z", root.GetProperty("windowStart").GetString());
        Assert.Equal("2024-05-01T10:01:00.000Z", root.GetProperty("windowEnd").GetString());
        Assert.Equal(12.5, root.GetProperty("value").GetDouble());
        Assert.Equal(40, root.GetProperty("count").GetInt64());
        Assert.Equal(bytes, OutputCodec.Encode(aggregate));
    }
}
