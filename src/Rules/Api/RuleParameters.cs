using System.Globalization;
using System.Text.Json;

namespace Kommune.Rules.Api;

/// <summary>
/// A rule's parameters from the rules file. Every getter names the parameter in its error, so a wrong rules file
/// is reported at start with the file, the rule and the field.
/// </summary>
public sealed class RuleParameters
{
    private readonly Dictionary<string, JsonElement> _values;
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);

    /// <summary>Parameters from a JSON object; an empty set when null.</summary>
    public RuleParameters(JsonElement? parameters = null)
    {
        _values = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        if (parameters is { ValueKind: JsonValueKind.Object } element)
        {
            foreach (var property in element.EnumerateObject())
            {
                _values[property.Name] = property.Value.Clone();
            }
        }
        else if (parameters is { ValueKind: not (JsonValueKind.Null or JsonValueKind.Undefined) } other)
        {
            throw new RuleParameterException("parameters", $"must be an object, not {Describe(other)}");
        }
    }

    /// <summary>No parameters.</summary>
    public static RuleParameters Empty => new();

    /// <summary>Parameters from a JSON object text, for tests.</summary>
    public static RuleParameters FromJson(string json)
    {
        using var document = JsonDocument.Parse(json);
        return new RuleParameters(document.RootElement);
    }

    /// <summary>The names given that no getter asked for (the engine reports them as unknown).</summary>
    public IReadOnlyList<string> Unread => [.. _values.Keys.Where(k => !_read.Contains(k)).Order(StringComparer.Ordinal)];

    /// <summary>A number; <paramref name="fallback"/> when absent, an error when absent without one.</summary>
    public double GetNumber(string name, double? fallback = null, double min = double.MinValue, double max = double.MaxValue)
    {
        if (!TryGet(name, out var element))
        {
            return fallback ?? throw Missing(name);
        }

        if (element.ValueKind != JsonValueKind.Number || !element.TryGetDouble(out var number) || !double.IsFinite(number))
        {
            throw new RuleParameterException(name, $"must be a number, not {Describe(element)}");
        }

        if (number < min || number > max)
        {
            throw new RuleParameterException(name, $"must be between {min.ToString(CultureInfo.InvariantCulture)} and {max.ToString(CultureInfo.InvariantCulture)}, not {number.ToString(CultureInfo.InvariantCulture)}");
        }

        return number;
    }

    /// <summary>A whole number; <paramref name="fallback"/> when absent.</summary>
    public int GetInteger(string name, int? fallback = null, int min = int.MinValue, int max = int.MaxValue)
    {
        if (!TryGet(name, out var element))
        {
            return fallback ?? throw Missing(name);
        }

        if (element.ValueKind != JsonValueKind.Number || !element.TryGetInt32(out var number))
        {
            throw new RuleParameterException(name, $"must be a whole number, not {Describe(element)}");
        }

        if (number < min || number > max)
        {
            throw new RuleParameterException(name, $"must be between {min} and {max}, not {number}");
        }

        return number;
    }

    /// <summary>A text; <paramref name="fallback"/> when absent.</summary>
    public string GetText(string name, string? fallback = null)
    {
        if (!TryGet(name, out var element))
        {
            return fallback ?? throw Missing(name);
        }

        return element.ValueKind == JsonValueKind.String
            ? element.GetString()!
            : throw new RuleParameterException(name, $"must be a string, not {Describe(element)}");
    }

    /// <summary>
    /// A list of non-empty texts written as a JSON array of strings; <paramref name="fallback"/> when absent.
    /// </summary>
    public IReadOnlyList<string> GetTextList(string name, IReadOnlyList<string>? fallback = null) =>
        GetList(name, fallback, "strings such as [\"a\", \"b\"]", "non-empty strings", text => (!string.IsNullOrWhiteSpace(text), text));

    /// <summary>
    /// A list of positive durations written as a JSON array of strings (each as for <see cref="GetDuration"/>);
    /// <paramref name="fallback"/> when absent.
    /// </summary>
    public IReadOnlyList<TimeSpan> GetDurationList(string name, IReadOnlyList<TimeSpan>? fallback = null) =>
        GetList(name, fallback, "durations such as [\"60s\", \"2m\"]", "positive durations such as \"90s\"",
            text => TryParseDuration(text, out var duration) && duration > TimeSpan.Zero ? (true, duration) : (false, default));

    private List<T> GetList<T>(string name, IReadOnlyList<T>? fallback, string example, string items, Func<string, (bool Ok, T Value)> parse)
    {
        if (!TryGet(name, out var element))
        {
            return fallback is null ? throw Missing(name) : [.. fallback];
        }

        if (element.ValueKind != JsonValueKind.Array)
        {
            throw new RuleParameterException(name, $"must be an array of {example}, not {Describe(element)}");
        }

        var list = new List<T>(element.GetArrayLength());
        foreach (var item in element.EnumerateArray())
        {
            var (ok, value) = item.ValueKind == JsonValueKind.String ? parse(item.GetString()!) : (false, default!);
            if (!ok)
            {
                throw new RuleParameterException(name, $"must hold only {items}, not {Describe(item)} (item {list.Count + 1})");
            }

            list.Add(value);
        }

        return list;
    }

    /// <summary>Whether the parameter is given (and not null); counts as read.</summary>
    public bool Has(string name) => TryGet(name, out _);

    /// <summary>A true/false value; <paramref name="fallback"/> when absent.</summary>
    public bool GetBoolean(string name, bool? fallback = null)
    {
        if (!TryGet(name, out var element))
        {
            return fallback ?? throw Missing(name);
        }

        return element.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new RuleParameterException(name, $"must be true or false, not {Describe(element)}"),
        };
    }

    /// <summary>
    /// A positive duration written as a string: <c>"90s"</c>, <c>"5m"</c>, <c>"2h"</c>, <c>"1d"</c>, <c>"250ms"</c>, or
    /// <c>"00:05:00"</c>; <paramref name="fallback"/> when absent.
    /// </summary>
    public TimeSpan GetDuration(string name, TimeSpan? fallback = null)
    {
        if (!TryGet(name, out var element))
        {
            return fallback ?? throw Missing(name);
        }

        if (element.ValueKind == JsonValueKind.String && TryParseDuration(element.GetString()!, out var duration) && duration > TimeSpan.Zero)
        {
            return duration;
        }

        throw new RuleParameterException(name, $"must be a positive duration such as \"90s\", \"5m\" or \"00:05:00\", not {Describe(element)}");
    }

    /// <summary>Parses <c>"250ms"</c>, <c>"90s"</c>, <c>"5m"</c>, <c>"2h"</c>, <c>"1d"</c> or a TimeSpan text such as <c>"00:05:00"</c>.</summary>
    public static bool TryParseDuration(string text, out TimeSpan duration)
    {
        ArgumentNullException.ThrowIfNull(text);
        text = text.Trim();
        var (unit, digits) = text.EndsWith("ms", StringComparison.Ordinal) ? (1.0, text[..^2])
            : text.EndsWith('s') ? (1000.0, text[..^1])
            : text.EndsWith('m') ? (60_000.0, text[..^1])
            : text.EndsWith('h') ? (3_600_000.0, text[..^1])
            : text.EndsWith('d') ? (86_400_000.0, text[..^1])
            : (0.0, text);
        if (unit > 0)
        {
            if (double.TryParse(digits, NumberStyles.Float, CultureInfo.InvariantCulture, out var amount) && double.IsFinite(amount))
            {
                duration = TimeSpan.FromMilliseconds(amount * unit);
                return true;
            }

            duration = default;
            return false;
        }

        return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out duration);
    }

    private bool TryGet(string name, out JsonElement element)
    {
        _read.Add(name);
        return _values.TryGetValue(name, out element) && element.ValueKind != JsonValueKind.Null;
    }

    private static RuleParameterException Missing(string name) => new(name, "is required");

    private static string Describe(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.String => $"\"{element.GetString()}\"",
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        _ => element.GetRawText(),
    };
}

/// <summary>A rule parameter is missing or wrong; the message names it.</summary>
public sealed class RuleParameterException : Exception
{
    /// <summary>A parameter error.</summary>
    /// <param name="parameter">The parameter's name.</param>
    /// <param name="problem">What is wrong, for example "must be a number, not \"ten\"".</param>
    public RuleParameterException(string parameter, string problem)
        : base($"parameter '{parameter}' {problem}")
    {
        Parameter = parameter;
    }

    /// <summary>An error without a parameter name.</summary>
    public RuleParameterException()
        : this("?", "is wrong")
    {
    }

    /// <summary>An error with a message.</summary>
    public RuleParameterException(string message)
        : this("?", message)
    {
    }

    /// <summary>An error with a message and a cause.</summary>
    public RuleParameterException(string message, Exception innerException)
        : base(message, innerException)
    {
        Parameter = "?";
    }

    /// <summary>The parameter's name.</summary>
    public string Parameter { get; } = "?";
}
