using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Kommune.Connectors.Kafka;

/// <summary>
/// Which alerts are open and who holds each, read from the alerts topic itself (its newest record per alert, every
/// partition, from the start, then followed): how a node that reads an operations centre's command finds the node
/// whose sensor or area holds that alert. Alert records name their owner (<c>owner</c>: scope, key and partition);
/// records without one (written before owners were recorded) are owned by their sensor, or their area when it has
/// none, in an unknown partition.
/// </summary>
public sealed class AlertDirectory : IDisposable
{
    private readonly ConcurrentDictionary<string, (AlertOwner? Owner, string AreaId)> _open = new(StringComparer.Ordinal);
    private readonly KafkaTopicFollower _follower;

    /// <summary>A directory that is not yet reading.</summary>
    /// <param name="bootstrapServers">The cluster.</param>
    /// <param name="clientSettings">The librdkafka settings from configuration (TLS, SASL), applied over the consumer's own.</param>
    /// <param name="alertsTopic">The alerts topic.</param>
    /// <param name="logger">Where the directory's reader logs.</param>
    public AlertDirectory(string bootstrapServers, KafkaClientSettings clientSettings, string alertsTopic, ILogger logger)
    {
        _follower = new KafkaTopicFollower(bootstrapServers, clientSettings, [alertsTopic], Read, logger);
    }

    /// <summary>Completes once the alerts topic was read to the end it had at start.</summary>
    public Task CaughtUp => _follower.CaughtUp;

    /// <summary>How many alerts are open.</summary>
    public int Open => _open.Count;

    /// <summary>Starts reading.</summary>
    public void Start() => _follower.Start();

    /// <summary>The open alert's owner and area; false when it is not open (resolved, or never raised) as far as read.</summary>
    public bool TryFind(string alertId, out AlertOwner? owner, out string areaId)
    {
        if (_open.TryGetValue(alertId, out var found))
        {
            (owner, areaId) = found;
            return true;
        }

        (owner, areaId) = (null, string.Empty);
        return false;
    }

    /// <summary>Stops reading.</summary>
    public void Dispose() => _follower.Dispose();

    private void Read(TopicRecord record)
    {
        if (record.Value is null)
        {
            return;
        }

        try
        {
            using var json = JsonDocument.Parse(record.Value);
            var root = json.RootElement;
            var alertId = root.GetProperty("alertId").GetString()!;
            if (root.GetProperty("status").GetString() == "resolved")
            {
                _open.TryRemove(alertId, out _);
                return;
            }

            var areaId = root.GetProperty("areaId").GetString()!;
            AlertOwner? owner = null;
            if (root.TryGetProperty("owner", out var o) && o.ValueKind == JsonValueKind.Object)
            {
                owner = new AlertOwner(o.GetProperty("scope").GetString() == "area", o.GetProperty("key").GetString()!, o.GetProperty("partition").GetInt32());
            }
            else if (root.TryGetProperty("sensorId", out var sensor) && sensor.ValueKind == JsonValueKind.String)
            {
                owner = new AlertOwner(false, sensor.GetString()!, -1);
            }
            else
            {
                owner = new AlertOwner(true, areaId, -1);
            }

            _open[alertId] = (owner, areaId);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            // Not an alert record of ours: nothing to direct commands to.
        }
    }
}
