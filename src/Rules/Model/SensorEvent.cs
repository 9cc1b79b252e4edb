namespace Kommune.Rules.Model;

/// <summary>
/// One reading or occurrence reported by a sensor (event contract v1, docs/events.md). Immutable.
/// </summary>
/// <param name="SensorId">The sensor's id, never empty; also the Kafka key, so one sensor's events stay in order.</param>
/// <param name="AreaId">The area (district, building, road segment group) the sensor belongs to.</param>
/// <param name="Type">The sensor type: one of <see cref="SensorTypes"/>, or any other name a plugin handles.</param>
/// <param name="Timestamp">Event time: when the sensor observed it, not when the engine received it.</param>
/// <param name="Values">Named readings: finite numbers, strings and booleans.</param>
public sealed record SensorEvent(
    string SensorId,
    string AreaId,
    string Type,
    DateTimeOffset Timestamp,
    IReadOnlyDictionary<string, SensorValue> Values)
{
    /// <summary>Reads a number value, or returns false when it is absent or not a number.</summary>
    public bool TryGetNumber(string name, out double number)
    {
        if (Values.TryGetValue(name, out var value))
        {
            return value.TryGetNumber(out number);
        }

        number = 0;
        return false;
    }

    /// <summary>
    /// Reads a number value the rule cannot do without. Use <see cref="TryGetNumber"/> to skip an event without it.
    /// </summary>
    /// <exception cref="SensorValueException">
    /// The value is absent, a text or a boolean. Escaping a rule's handler, it fails the rule on this event, which the
    /// engine dead-letters with the message as its reason, for example <c>value 'db' of sensor noise-7 is text 'loud', not a number</c>.
    /// </exception>
    public double GetNumber(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (Values.TryGetValue(name, out var value))
        {
            return value.TryGetNumber(out var number) ? number : throw new SensorValueException(name, SensorId, value);
        }

        throw new SensorValueException(name, SensorId, null);
    }

    /// <summary>Reads a boolean value, or returns false when it is absent or not a boolean.</summary>
    public bool TryGetBoolean(string name, out bool value)
    {
        if (Values.TryGetValue(name, out var sensorValue) && sensorValue.Kind == SensorValueKind.Boolean)
        {
            value = sensorValue.Boolean;
            return true;
        }

        value = false;
        return false;
    }

    /// <summary>Reads a text value, or returns false when it is absent or not a text.</summary>
    public bool TryGetText(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? text)
    {
        if (Values.TryGetValue(name, out var sensorValue) && sensorValue.Kind == SensorValueKind.Text)
        {
            text = sensorValue.Text!;
            return true;
        }

        text = null;
        return false;
    }
}
