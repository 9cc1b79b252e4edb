using Kommune.Rules.Model;

namespace Kommune.Rules.Api;

/// <summary>Where a rule puts its conclusions. The engine writes them to Kafka.</summary>
public interface IRuleOutput
{
    /// <summary>Emits one alert state change.</summary>
    void Emit(Alert alert);

    /// <summary>Emits one aggregate.</summary>
    void Emit(Aggregate aggregate);
}
