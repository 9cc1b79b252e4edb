using Kommune.Rules.Model;

namespace Kommune.Rules.Api;

/// <summary>
/// A rule the engine runs for each sensor event it accepts. One instance serves one sensor, so fields of the
/// instance are that sensor's state. Handlers must not block: they run on the engine's shared threads.
/// </summary>
public interface IRule
{
    /// <summary>A stable name, used in alerts, logs and dead-letter reasons.</summary>
    string Name { get; }

    /// <summary>Whether this rule wants the event. Called before <see cref="OnEvent"/>.</summary>
    bool Accepts(SensorEvent sensorEvent);

    /// <summary>Handles one event and emits what it concludes through <paramref name="output"/>.</summary>
    void OnEvent(SensorEvent sensorEvent, IRuleOutput output);
}
