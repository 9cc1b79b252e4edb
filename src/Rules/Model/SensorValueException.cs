using System.Globalization;

namespace Kommune.Rules.Model;

/// <summary>
/// A sensor value was read as a number but is not one (a text such as <c>"loud"</c>, or a boolean), or was not sent at
/// all. Thrown by <see cref="SensorValue.Number"/> and <see cref="SensorEvent.GetNumber"/> instead of a 0 that would
/// count as a reading. A rule that lets it escape fails on that event, which the engine dead-letters with this message
/// as its reason (and the test kit lists in its failures); read with <see cref="SensorEvent.TryGetNumber"/> to skip such
/// events instead.
/// </summary>
public sealed class SensorValueException : Exception
{
    private const int MaxShownText = 64;

    /// <summary>A value that is not a number.</summary>
    /// <param name="valueName">The value's name in the event, or null when not known.</param>
    /// <param name="sensorId">The sensor that sent it, or null when not known.</param>
    /// <param name="value">The value, or null when the event has no value of that name.</param>
    public SensorValueException(string? valueName, string? sensorId, SensorValue? value)
        : base(Describe(valueName, sensorId, value))
    {
        ValueName = valueName;
        SensorId = sensorId;
        Value = value;
    }

    /// <summary>A value that is not a number, described by <paramref name="message"/>.</summary>
    public SensorValueException(string message)
        : base(message)
    {
    }

    /// <summary>A value that is not a number, described by <paramref name="message"/>, with its cause.</summary>
    public SensorValueException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>A value that is not a number.</summary>
    public SensorValueException()
        : this(null, null, null)
    {
    }

    /// <summary>The value's name in the event (<c>db</c>), or null when it is not known.</summary>
    public string? ValueName { get; }

    /// <summary>The sensor that sent it, or null when it is not known.</summary>
    public string? SensorId { get; }

    /// <summary>The value that is not a number, or null when none was sent under <see cref="ValueName"/>.</summary>
    public SensorValue? Value { get; }

    /// <summary>
    /// The same error naming the value and the sensor, when <paramref name="failure"/> is one thrown by
    /// <see cref="SensorValue.Number"/> (which knows neither) while <paramref name="input"/> was handled and exactly one
    /// value of the event is the one read; otherwise <paramref name="failure"/> itself.
    /// </summary>
    internal static Exception Explain(Exception failure, object input)
    {
        if (failure is not SensorValueException { ValueName: null, SensorId: null, Value: { } value } || input is not SensorEvent sensorEvent)
        {
            return failure;
        }

        string? name = null;
        foreach (var (candidate, held) in sensorEvent.Values)
        {
            if (held == value)
            {
                if (name is not null)
                {
                    return new SensorValueException(null, sensorEvent.SensorId, value);
                }

                name = candidate;
            }
        }

        return new SensorValueException(name, sensorEvent.SensorId, value);
    }

    private static string Describe(string? valueName, string? sensorId, SensorValue? value)
    {
        var which = (valueName, sensorId) switch
        {
            (null, null) => "a value",
            (null, { } sensor) => $"a value of sensor {sensor}",
            ({ } name, null) => $"value '{name}'",
            ({ } name, { } sensor) => $"value '{name}' of sensor {sensor}",
        };
        return value switch
        {
            null when valueName is null && sensorId is null => "a sensor value is not a number",
            null => $"{which} is missing",
            { Kind: SensorValueKind.Text } v => $"{which} is text '{Shorten(v.Text!)}', not a number",
            { Kind: SensorValueKind.Boolean } v => $"{which} is boolean {(v.Boolean ? "true" : "false")}, not a number",
            { } v => string.Create(CultureInfo.InvariantCulture, $"{which} is the number {v}"),
        };
    }

    private static string Shorten(string text)
    {
        var oneLine = text.ReplaceLineEndings(" ");
        return oneLine.Length <= MaxShownText ? oneLine : string.Concat(oneLine.AsSpan(0, MaxShownText), "…");
    }
}
