using System.Globalization;

namespace Kommune.Rules.Model;

/// <summary>What kind of value a <see cref="SensorValue"/> holds.</summary>
public enum SensorValueKind
{
    /// <summary>A finite double-precision number.</summary>
    Number,

    /// <summary>A string.</summary>
    Text,

    /// <summary>true or false.</summary>
    Boolean,
}

/// <summary>One named value of a sensor event: a finite number, a string or a boolean.</summary>
public readonly record struct SensorValue
{
    private readonly double _number;

    private SensorValue(SensorValueKind kind, double number, string? text, bool boolean)
    {
        Kind = kind;
        _number = number;
        Text = text;
        Boolean = boolean;
    }

    /// <summary>What the value holds.</summary>
    public SensorValueKind Kind { get; }

    /// <summary>
    /// The number. Read it only when <see cref="Kind"/> is <see cref="SensorValueKind.Number"/>, or use
    /// <see cref="TryGetNumber"/>: a text or a boolean is never read as a number.
    /// </summary>
    /// <exception cref="SensorValueException">
    /// The value is a text or a boolean. Escaping a rule's handler, it fails the rule on that event, which the engine
    /// dead-letters with the message as its reason, for example <c>value 'db' of sensor noise-7 is text 'loud', not a number</c>.
    /// </exception>
    public double Number => Kind == SensorValueKind.Number ? _number : throw new SensorValueException(null, null, this);

    /// <summary>The string, when <see cref="Kind"/> is <see cref="SensorValueKind.Text"/>; otherwise null.</summary>
    public string? Text { get; }

    /// <summary>The boolean, when <see cref="Kind"/> is <see cref="SensorValueKind.Boolean"/>; otherwise false.</summary>
    public bool Boolean { get; }

    /// <summary>Reads the number; false (and 0) when the value is a text or a boolean.</summary>
    public bool TryGetNumber(out double number)
    {
        number = Kind == SensorValueKind.Number ? _number : 0;
        return Kind == SensorValueKind.Number;
    }

    /// <summary>A number value. NaN and infinities are refused: sensors never report them as valid readings.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The number is NaN or infinite.</exception>
    public static SensorValue FromNumber(double number)
    {
        if (!double.IsFinite(number))
        {
            throw new ArgumentOutOfRangeException(nameof(number), number, "A sensor value must be a finite number.");
        }

        return new SensorValue(SensorValueKind.Number, number, null, false);
    }

    /// <summary>A string value.</summary>
    public static SensorValue FromText(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return new SensorValue(SensorValueKind.Text, 0, text, false);
    }

    /// <summary>A boolean value.</summary>
    public static SensorValue FromBoolean(bool value) => new(SensorValueKind.Boolean, 0, null, value);

    /// <summary>Implicit conversion from a number.</summary>
    public static implicit operator SensorValue(double number) => FromNumber(number);

    /// <summary>Implicit conversion from a string.</summary>
    public static implicit operator SensorValue(string text) => FromText(text);

    /// <summary>Implicit conversion from a boolean.</summary>
    public static implicit operator SensorValue(bool value) => FromBoolean(value);

    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        SensorValueKind.Number => _number.ToString("R", CultureInfo.InvariantCulture),
        SensorValueKind.Text => Text!,
        _ => Boolean ? "true" : "false",
    };
}
