using System.Text.Json;
using Kommune.Connectors.Codecs;
using Kommune.Rules.Model;

namespace Kommune.Connectors.Tests;

/// <summary>docs/schemas/alert.v1.schema.json describes exactly what the encoder writes.</summary>
public sealed class AlertSchemaTests
{
    [Fact]
    public void The_encoded_alert_has_exactly_the_schema_fields_with_allowed_values()
    {
        using var schema = JsonDocument.Parse(File.ReadAllText(SchemaPath("alert.v1.schema.json")));
        var required = schema.RootElement.GetProperty("required").EnumerateArray().Select(e => e.GetString()!).ToHashSet();
        var properties = schema.RootElement.GetProperty("properties");
        foreach (var status in Enum.GetValues<AlertStatus>())
        {
            foreach (var sensorId in new[] { "s-1", null })
            {
                var alert = new Alert("r:s-1:1", "r", "health", "fallenPatient", AlertSeverity.Critical, status, 2, sensorId, "a",
                    DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, "d", new Dictionary<string, SensorValue> { ["x"] = 1.0, ["y"] = "t", ["z"] = true })
                {
                    Recipients = sensorId is null ? [] : ["nurse on call"],
                };
                using var encoded = JsonDocument.Parse(OutputCodec.Encode(alert));
                Assert.Equal(alert.Recipients, encoded.RootElement.GetProperty("recipients").EnumerateArray().Select(e => e.GetString()));

                Assert.Equal(required.Order(), encoded.RootElement.EnumerateObject().Select(p => p.Name).Order());
                Assert.Contains(encoded.RootElement.GetProperty("status").GetString(), properties.GetProperty("status").GetProperty("enum").EnumerateArray().Select(e => e.GetString()));
                Assert.Contains(encoded.RootElement.GetProperty("severity").GetString(), properties.GetProperty("severity").GetProperty("enum").EnumerateArray().Select(e => e.GetString()));
            }
        }
    }

    [Theory]
    [InlineData(false, "s-1", 5)]
    [InlineData(true, "area-1", 0)]
    public void The_owner_an_alert_names_has_exactly_the_schema_fields(bool isArea, string key, int partition)
    {
        using var schema = JsonDocument.Parse(File.ReadAllText(SchemaPath("alert.v1.schema.json")));
        var required = schema.RootElement.GetProperty("required").EnumerateArray().Select(e => e.GetString()!).ToHashSet();
        var ownerSchema = schema.RootElement.GetProperty("properties").GetProperty("owner");
        var alert = new Alert("r:s-1:1", "r", "health", "fallenPatient", AlertSeverity.Critical, AlertStatus.Raised, 1, isArea ? null : key, "a",
            DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, "d", new Dictionary<string, SensorValue>());

        using var encoded = JsonDocument.Parse(OutputCodec.Encode(alert, new Kafka.AlertOwner(isArea, key, partition)));

        Assert.Equal(required.Append("owner").Order(), encoded.RootElement.EnumerateObject().Select(p => p.Name).Order());
        var owner = encoded.RootElement.GetProperty("owner");
        Assert.Equal(ownerSchema.GetProperty("required").EnumerateArray().Select(e => e.GetString()).Order(), owner.EnumerateObject().Select(p => p.Name).Order());
        Assert.Contains(owner.GetProperty("scope").GetString(), ownerSchema.GetProperty("properties").GetProperty("scope").GetProperty("enum").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(key, owner.GetProperty("key").GetString());
        Assert.Equal(partition, owner.GetProperty("partition").GetInt32());
    }

    private static string SchemaPath(string file)
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Engine.sln")))
        {
            directory = directory.Parent;
        }

        return Path.Combine(directory!.FullName, "docs", "schemas", file);
    }
}
