using System.Globalization;

namespace Kommune.Engine.Hosting;

/// <summary>What the demo's status line says of the engine, after what the simulator produced.</summary>
internal interface IDemoProgress
{
    /// <summary>The engine's part of the status line at <paramref name="now"/>; rates are since the last call.</summary>
    string Describe(DateTime now);
}

/// <summary>The in-process engine's counts (kommune demo with one node).</summary>
internal sealed class EngineProgress(EngineService engine) : IDemoProgress
{
    private long _lastProcessed;
    private DateTime _lastTime = DateTime.UtcNow;

    public string Describe(DateTime now)
    {
        var s = engine.Engine.Statistics;
        var rate = (s.Processed - _lastProcessed) / (now - _lastTime).TotalSeconds;
        _lastProcessed = s.Processed;
        _lastTime = now;
        return string.Create(CultureInfo.InvariantCulture,
            $"processed {s.Processed} ({rate:F0}/s)  alerts {s.Alerts}  dead letters {s.DeadLettered}  lost {s.LostRecords}  in flight {s.Processing}  sensors {s.ActiveSensors}  areas {s.ActiveAreas}");
    }
}
