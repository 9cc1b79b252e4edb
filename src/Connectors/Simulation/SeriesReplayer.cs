using System.Text;
using Kommune.Connectors.Codecs;
using Kommune.Rules.Model;

namespace Kommune.Connectors.Simulation;

/// <summary>
/// Streams recorded events into Kafka, keeping their event times, with the gaps between them compressed by a
/// factor (3600: an hour of readings per second of wall clock), or as fast as possible (factor 0).
/// </summary>
public static class SeriesReplayer
{
    /// <summary>Produces <paramref name="events"/> in order through <paramref name="publisher"/>.</summary>
    /// <returns>How many events were handed to the producer.</returns>
    public static async Task<long> ReplayAsync(
        IEnumerable<SensorEvent> events,
        SimulatorPublisher publisher,
        double speedup,
        TimeProvider clock,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(events);
        ArgumentNullException.ThrowIfNull(publisher);
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentOutOfRangeException.ThrowIfNegative(speedup);
        long sent = 0;
        DateTimeOffset? firstEventTime = null;
        var started = clock.GetTimestamp();
        foreach (var sensorEvent in events)
        {
            cancellationToken.ThrowIfCancellationRequested();
            firstEventTime ??= sensorEvent.Timestamp;
            if (speedup > 0)
            {
                var due = TimeSpan.FromTicks((long)((sensorEvent.Timestamp - firstEventTime.Value).Ticks / speedup));
                var wait = due - clock.GetElapsedTime(started);
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, clock, cancellationToken);
                }
            }

            publisher.Send(Encoding.UTF8.GetBytes(sensorEvent.SensorId), SensorEventEncoder.Encode(sensorEvent));
            sent++;
        }

        return sent;
    }
}
