using Kommune.Rules.Model;

namespace Kommune.Rules.Api;

/// <summary>
/// What a rule's handler can see and do for the key it runs for (a sensor, or an area for area-scoped rules).
/// Valid only during the call it was passed to.
/// </summary>
public interface IRuleContext
{
    /// <summary>The binding's name from the rules file (the rule's name when bound by default); alerts carry it.</summary>
    string RuleName { get; }

    /// <summary>The key: the sensor id for sensor-scoped rules, the area id for area-scoped rules.</summary>
    string Key { get; }

    /// <summary>The area of the key.</summary>
    string AreaId { get; }

    /// <summary>The event time of what is being handled: the event's, the fact's, or an event-time timer's.</summary>
    DateTimeOffset EventTime { get; }

    /// <summary>The engine's watermark: no event older than this minus <see cref="AllowedLateness"/> reaches a rule any more.</summary>
    DateTimeOffset Watermark { get; }

    /// <summary>How far behind the watermark an event may still arrive (older ones go to the late output).</summary>
    TimeSpan AllowedLateness { get; }

    /// <summary>The engine's wall clock (virtual in the test kit).</summary>
    DateTimeOffset ProcessingTime { get; }

    /// <summary>The named value of this rule's state for this key. Call it in the handler; do not keep it.</summary>
    /// <typeparam name="T">The value's type; the same name must always be used with the same type.</typeparam>
    IValueState<T> State<T>(string name);

    /// <summary>Sets (or moves) the named timer to fire when the watermark passes <paramref name="time"/>.</summary>
    void SetEventTimeTimer(string name, DateTimeOffset time);

    /// <summary>Sets (or moves) the named timer to fire when the clock passes <paramref name="time"/>.</summary>
    void SetProcessingTimeTimer(string name, DateTimeOffset time);

    /// <summary>Cancels the named timer; false when none was set.</summary>
    bool CancelTimer(string name);

    /// <summary>
    /// Raises an alert. Its id is stable (<c>rule:key:incident</c>), so updates and resolves of the same incident
    /// carry it. False (and nothing emitted) when that incident's alert is already open.
    /// </summary>
    bool RaiseAlert(string incident, AlertDraft draft);

    /// <summary>
    /// Emits a new state of an open alert (escalated to level 2, or the same status with new evidence); false when
    /// it is not open.
    /// </summary>
    bool UpdateAlert(string incident, AlertDraft draft, AlertStatus status);

    /// <summary>Marks an open alert acknowledged (its other fields unchanged); false when it is not open or already acknowledged.</summary>
    bool AcknowledgeAlert(string incident, string description);

    /// <summary>Resolves an open alert; false when it is not open.</summary>
    bool ResolveAlert(string incident, string description);

    /// <summary>The open alert of that incident, or null.</summary>
    Alert? OpenAlert(string incident);

    /// <summary>
    /// Emits an aggregate of the key: in an area-scoped rule the area's (keyed <c>area/metric/start</c>), in a
    /// sensor-scoped rule the sensor's (<see cref="Aggregate.SensorId"/> set, keyed <c>area/sensor/metric/start</c>), so
    /// the sensors of one area never overwrite each other's. The latest record per key wins (an update of a window).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">
    /// <paramref name="value"/> is NaN or infinite (JSON has no such number): the handler fails, as any throw of a rule.
    /// </exception>
    void EmitAggregate(string metric, DateTimeOffset windowStart, DateTimeOffset windowEnd, double value, long count);

    /// <summary>
    /// Tells the operators that this rule could not use what it was given (a parking reading with neither
    /// <c>free</c> nor <c>occupied</c>) or had to cut something short. The engine counts it per rule and
    /// <paramref name="kind"/> (<c>kommune_rule_problems_total</c>) and logs it, sampled, with the key; nothing else
    /// happens, and the other rules are not affected. The test kit lists it in <c>Problems</c>.
    /// </summary>
    /// <param name="kind">A short fixed word in lowercase letters, digits and hyphens, the same for every problem of its
    /// kind (it is a metric label; anything else is counted as <c>other</c>), such as <c>unusable-event</c>.</param>
    /// <param name="message">What was wrong, for the log: name the field, not the person.</param>
    void ReportProblem(string kind, string message);

    /// <summary>Sends a fact to the area-scoped rules of this area. Only sensor-scoped rules send facts.</summary>
    void SendFact(string name, IReadOnlyDictionary<string, SensorValue> values);
}
