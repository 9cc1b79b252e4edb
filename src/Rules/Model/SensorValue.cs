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
    // 16 bytes, not 24: an event's values are on the hot path. The number, and one reference that also says the kind:
    // none for a number, the string for a text, one of two shared marks for a boolean.
    private static readonly object TrueMark = new();
    private static readonly object FalseMark = new();
    private readonly double _number;
    private readonly object? _other;

    private SensorValue(double number, object? other)
    {
        _number = number;
        _other = other;
    }

    /// <summary>What the value holds.</summary>
    public SensorValueKind Kind => _other switch
    {
        null => SensorValueKind.Number,
        string => SensorValueKind.Text,
        _ => SensorValueKind.Boolean,
    };

    /// <summary>
    /// The number. Read it only when <see cref="Kind"/> is <see cref="SensorValueKind.Number"/>, or use
    /// <see cref="TryGetNumber"/>: a text or a boolean is never read as a number.
    /// </summary>
    /// <exception cref="SensorValueException">
    /// The value is a text or a boolean. Escaping a rule's handler, it fails the rule on that event, which the engine
    /// dead-letters with the message as its reason, for example <c>value 'db' of sensor noise-7 is text 'loud', not a number</c>.
    /// </exception>
    public double Number => _other is null ? _number : throw new SensorValueException(null, null, this);

    /// <summary>The string, when <see cref="Kind"/> is <see cref="SensorValueKind.Text"/>; otherwise null.</summary>
    public string? Text => _other as string;

    /// <summary>The boolean, when <see cref="Kind"/> is <see cref="SensorValueKind.Boolean"/>; otherwise false.</summary>
    public bool Boolean => ReferenceEquals(_other, TrueMark);

    /// <summary>Reads the number; false (and 0) when the value is a text or a boolean.</summary>
    public bool TryGetNumber(out double number)
    {
        number = _other is null ? _number : 0;
        return _other is null;
    }

    /// <summary>A number value. NaN and infinities are refused: sensors never report them as valid readings.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The number is NaN or infinite.</exception>
    public static SensorValue FromNumber(double number)
    {
        if (!double.IsFinite(number))
        {
            throw new ArgumentOutOfRangeException(nameof(number), number, "A sensor value must be a finite number.");
        }

        return new SensorValue(number, null);
    }

    /// <summary>A string value.</summary>
    public static SensorValue FromText(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return new SensorValue(0, text);
    }

    /// <summary>A boolean value.</summary>
    public static SensorValue FromBoolean(bool value) => new(0, value ? TrueMark : FalseMark);

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
