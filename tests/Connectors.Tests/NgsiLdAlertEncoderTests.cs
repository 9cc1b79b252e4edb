using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kommune.Connectors.Codecs;
using Kommune.Rules.Model;

namespace Kommune.Connectors.Tests;

/// <summary>An alert record maps to FIWARE's NGSI-LD normalized <c>Alert</c> entity, and to nothing more.</summary>
public sealed class NgsiLdAlertEncoderTests
{
    private static readonly DateTimeOffset FallTime = DateTimeOffset.FromUnixTimeMilliseconds(1_795_681_263_120);

    private static readonly Alert Fall = new(
        "fall-detection:wearable-0417:1795681263120", "fall-detection", "health", "fallenPatient", AlertSeverity.Critical,
        AlertStatus.Raised, 1, "wearable-0417", "bydel-grunerlokka", FallTime, FallTime,
        "Fall detected by sensor wearable-0417: level 1, care team",
        new Dictionary<string, SensorValue> { ["confidence"] = 0.94, ["posture"] = "lying" })
    {
        Recipients = ["care team"],
    };

    [Fact]
    public void A_fall_alert_maps_to_an_Alert_entity_with_the_device_as_its_source()
    {
        AssertJsonEqual(
            """
            {
              "id": "urn:ngsi-ld:Alert:fall-detection:wearable-0417:1795681263120",
              "type": "Alert",
              "category": { "type": "Property", "value": "health" },
              "subCategory": { "type": "Property", "value": "fallenPatient" },
              "severity": { "type": "Property", "value": "critical" },
              "dateIssued": { "type": "Property", "value": { "@type": "DateTime", "@value": "2026-11-26T08:21:03.120Z" } },
              "description": { "type": "Property", "value": "Fall detected by sensor wearable-0417: level 1, care team" },
              "alertSource": { "type": "Relationship", "object": "urn:ngsi-ld:Device:wearable-0417" },
              "areaServed": { "type": "Property", "value": "bydel-grunerlokka" },
              "@context": [
                "https://raw.githubusercontent.com/smart-data-models/dataModel.Alert/master/context.jsonld",
                "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"
              ]
            }
            """,
            NgsiLdAlertEncoder.Encode(Fall));
    }

    [Fact]
    public void An_area_congestion_alert_maps_to_an_Alert_entity_with_its_rule_as_its_source()
    {
        var raisedAt = DateTimeOffset.FromUnixTimeMilliseconds(1_795_758_735_000);
        var congestion = new Alert(
            "congestion-area:area-002:area-congestion:1795758660000", "congestion-area", "traffic", "trafficJam", AlertSeverity.High,
            AlertStatus.Raised, 1, null, "area-002", raisedAt, raisedAt, "Area area-002 congested for 3 minutes: 62 % of 8 segments",
            new Dictionary<string, SensorValue> { ["share"] = 62.5, ["segments"] = 8 });

        AssertJsonEqual(
            """
            {
              "id": "urn:ngsi-ld:Alert:congestion-area:area-002:area-congestion:1795758660000",
              "type": "Alert",
              "category": { "type": "Property", "value": "traffic" },
              "subCategory": { "type": "Property", "value": "trafficJam" },
              "severity": { "type": "Property", "value": "high" },
              "dateIssued": { "type": "Property", "value": { "@type": "DateTime", "@value": "2026-11-27T05:52:15.000Z" } },
              "description": { "type": "Property", "value": "Area area-002 congested for 3 minutes: 62 % of 8 segments" },
              "alertSource": { "type": "Property", "value": "congestion-area" },
              "areaServed": { "type": "Property", "value": "area-002" },
              "@context": [
                "https://raw.githubusercontent.com/smart-data-models/dataModel.Alert/master/context.jsonld",
                "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"
              ]
            }
            """,
            NgsiLdAlertEncoder.Encode(congestion));
    }

    [Fact]
    public void Every_state_change_of_an_alert_is_the_same_entity_and_the_resolved_one_says_until_when_it_held()
    {
        var resolvedAt = FallTime.AddMinutes(7);
        var escalated = JsonNode.Parse(NgsiLdAlertEncoder.Encode(Fall with { Status = AlertStatus.Escalated, Level = 2, Sequence = 2 }))!;
        var resolved = JsonNode.Parse(NgsiLdAlertEncoder.Encode(Fall with { Status = AlertStatus.Resolved, Sequence = 3, DateIssued = resolvedAt }))!;

        Assert.Equal(escalated["id"]!.GetValue<string>(), resolved["id"]!.GetValue<string>());
        Assert.Null(escalated["validTo"]);
        Assert.True(JsonNode.DeepEquals(
            JsonNode.Parse("""{ "type": "Property", "value": { "@type": "DateTime", "@value": "2026-11-26T08:28:03.120Z" } }"""),
            resolved["validTo"]));
    }

    [Fact]
    public void The_entity_of_a_fall_alert_carries_none_of_the_record_s_evidence_recipients_level_or_status()
    {
        var bytes = NgsiLdAlertEncoder.Encode(Fall with { Status = AlertStatus.Escalated, Level = 2, Recipients = ["nurse Kari"] });
        var entity = Encoding.UTF8.GetString(bytes);

        Assert.Equal(
            ["@context", "alertSource", "areaServed", "category", "dateIssued", "description", "id", "severity", "subCategory", "type"],
            JsonNode.Parse(bytes)!.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal));
        foreach (var absent in new[] { "lying", "0.94", "confidence", "nurse Kari", "escalated" })
        {
            Assert.DoesNotContain(absent, entity, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Theory]
    [InlineData(AlertSeverity.Informational, "informational")]
    [InlineData(AlertSeverity.Low, "low")]
    [InlineData(AlertSeverity.Medium, "medium")]
    [InlineData(AlertSeverity.High, "high")]
    [InlineData(AlertSeverity.Critical, "critical")]
    public void Each_severity_is_FIWARE_s_value_of_the_same_name(AlertSeverity severity, string fiware)
    {
        Assert.Equal(fiware, NgsiLdAlertEncoder.Severity(severity));
    }

    [Theory]
    [InlineData("fall-detection:wearable-0417:1", "urn:ngsi-ld:Alert:fall-detection:wearable-0417:1")]
    [InlineData("parking:bydel-grünerløkka:parking-full:1", "urn:ngsi-ld:Alert:parking:bydel-gr%C3%BCnerl%C3%B8kka:parking-full:1")]
    [InlineData("r:room 1?#%:1", "urn:ngsi-ld:Alert:r:room%201%3F%23%25:1")]
    public void An_alert_id_becomes_a_URN_with_what_a_URN_may_not_hold_percent_encoded(string alertId, string urn) =>
        Assert.Equal(urn, NgsiLdAlertEncoder.Urn("Alert", alertId));

    [Fact]
    public void A_lone_surrogate_in_an_id_becomes_the_replacement_character() =>
        Assert.Equal("urn:ngsi-ld:Device:a%EF%BF%BDb", NgsiLdAlertEncoder.Urn("Device", "a" + (char)0xD800 + "b"));

    [Fact]
    public void The_alert_docs_NGSI_LD_example_is_what_the_encoder_makes_of_the_docs_record()
    {
        var section = File.ReadAllText(DocsPath("alerts.md")).Split("## As an NGSI-LD Alert entity", 2)[1];
        var blocks = section.Split("```json")[1..3].Select(b => b.Split("```")[0]).ToArray();
        Assert.True(OutputDecoder.TryDecodeAlert(Encoding.UTF8.GetBytes(blocks[0]), out var record, out var reason), reason);

        AssertJsonEqual(blocks[1], NgsiLdAlertEncoder.Encode(record!));
    }

    private static void AssertJsonEqual(string expected, byte[] actual)
    {
        var actualNode = JsonNode.Parse(actual);
        Assert.True(
            JsonNode.DeepEquals(JsonNode.Parse(expected), actualNode),
            "the entity was: " + actualNode!.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    private static string DocsPath(string file)
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Engine.sln")))
        {
            directory = directory.Parent;
        }

        return Path.Combine(directory!.FullName, "docs", file);
    }
}
