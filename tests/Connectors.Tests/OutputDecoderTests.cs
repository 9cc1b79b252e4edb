using System.Text;
using Kommune.Connectors.Codecs;
using Kommune.Rules.Model;

namespace Kommune.Connectors.Tests;

/// <summary>What the engine writes to its output topics reads back the same for consumers such as the console.</summary>
public sealed class OutputDecoderTests
{
    [Fact]
    public void An_encoded_alert_decodes_to_the_same_alert()
    {
        var alert = new Alert("fall-detection:w-1:1795681263120", "fall-detection", "health", "fallenPatient", AlertSeverity.Critical, AlertStatus.Escalated, 2,
            "w-1", "bydel-sagene", DateTimeOffset.FromUnixTimeMilliseconds(1_795_681_263_120), DateTimeOffset.FromUnixTimeMilliseconds(1_795_681_283_120),
            "Fall detected: level 2", new Dictionary<string, SensorValue> { ["confidence"] = 0.94, ["posture"] = "<b>lying</b>", ["alone"] = true })
        {
            Sequence = 2,
            Recipients = ["nurse on call"],
        };

        Assert.True(OutputDecoder.TryDecodeAlert(OutputCodec.Encode(alert), out var decoded, out var reason), reason);
        Assert.Equal(alert with { Evidence = decoded!.Evidence, Recipients = decoded.Recipients }, decoded);
        Assert.Equal(alert.Evidence.OrderBy(e => e.Key), decoded.Evidence.OrderBy(e => e.Key));
        Assert.Equal(alert.Recipients, decoded.Recipients);
    }

    [Fact]
    public void An_area_alert_has_no_sensor_and_unknown_fields_are_ignored()
    {
        var json = """
            {"alertId":"parking:area-3:parking-full:1","sequence":1,"rule":"parking","category":"traffic","subCategory":"parking-full",
             "severity":"medium","status":"raised","level":1,"sensorId":null,"areaId":"area-3","eventTime":"2026-11-26T07:41:03.120Z",
             "dateIssued":"2026-11-26T07:41:03.120Z","description":"full","recipients":[],"evidence":{"free":0},"addedLater":{"x":1}}
            """;

        Assert.True(OutputDecoder.TryDecodeAlert(Encoding.UTF8.GetBytes(json), out var alert, out _));
        Assert.Null(alert!.SensorId);
        Assert.Equal(AlertSeverity.Medium, alert.Severity);
        Assert.Equal(0, alert.Evidence["free"].Number);
    }

    [Theory]
    [InlineData("[]", "must be a JSON object")]
    [InlineData("{", "")]
    [InlineData("""{"alertId":"a"}""", "field 'rule' is missing or not a string")]
    [InlineData("""{"alertId":"a","sequence":1,"rule":"r","category":"c","subCategory":"s","severity":"dire","status":"raised","level":1,"areaId":"x","eventTime":"2026-11-26T07:41:03Z","dateIssued":"2026-11-26T07:41:03Z","description":"d"}""", "field 'severity'")]
    public void A_record_that_is_not_an_alert_is_refused_with_a_reason(string json, string reasonPart)
    {
        Assert.False(OutputDecoder.TryDecodeAlert(Encoding.UTF8.GetBytes(json), out var alert, out var reason));
        Assert.Null(alert);
        Assert.Contains(reasonPart, reason, StringComparison.Ordinal);
    }

    [Fact]
    public void An_encoded_aggregate_decodes_to_the_same_aggregate()
    {
        var aggregate = new Aggregate("area-1", "parking.free", DateTimeOffset.FromUnixTimeSeconds(1_795_681_200), DateTimeOffset.FromUnixTimeSeconds(1_795_681_260), 41.5, 12);

        Assert.True(OutputDecoder.TryDecodeAggregate(OutputCodec.Encode(aggregate), out var decoded, out var reason), reason);
        Assert.Equal(aggregate, decoded);
    }

    [Fact]
    public void A_sensor_s_aggregate_carries_its_sensor_id_and_an_area_s_has_none()
    {
        var area = new Aggregate("area-1", "noise.max", DateTimeOffset.FromUnixTimeSeconds(1_795_681_200), DateTimeOffset.FromUnixTimeSeconds(1_795_681_260), 71.5, 12);
        var sensor = area with { SensorId = "noise-7" };

        Assert.True(OutputDecoder.TryDecodeAggregate(OutputCodec.Encode(sensor), out var decoded, out var reason), reason);
        Assert.Equal(sensor, decoded);
        Assert.Contains("\"sensorId\":\"noise-7\"", Encoding.UTF8.GetString(OutputCodec.Encode(sensor)), StringComparison.Ordinal);
        Assert.DoesNotContain("sensorId", Encoding.UTF8.GetString(OutputCodec.Encode(area)), StringComparison.Ordinal);
    }

    [Fact]
    public void An_encoded_command_is_what_the_engine_s_decoder_accepts()
    {
        var command = new AlertCommand("fall-detection:w-1:1", AlertAction.Resolve, "nurse \"Kari\" <Nordmann>", DateTimeOffset.FromUnixTimeMilliseconds(1_795_681_263_120));

        Assert.True(AlertCommandDecoder.TryDecode(Encoding.UTF8.GetBytes(command.AlertId), AlertCommandEncoder.Encode(command), out var decoded, out var failure), failure.Text);
        Assert.Equal(command, decoded);
        Assert.Equal("""{"alertId":"fall-detection:w-1:1","action":"ack","by":"x","ts":"2026-11-26T08:21:03.120Z"}""",
            Encoding.UTF8.GetString(AlertCommandEncoder.Encode(command with { Action = AlertAction.Ack, By = "x" })));
    }
}
