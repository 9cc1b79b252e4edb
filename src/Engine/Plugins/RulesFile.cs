using System.Text.Json;

namespace Kommune.Engine.Plugins;

/// <summary>One entry of a rules file, as written; a field that was wrong is null and its error recorded.</summary>
/// <param name="Label">How errors name it: <c>rule 'name'</c>, or <c>rules[index]</c> when it has no usable name.</param>
/// <param name="Name">The binding's name.</param>
/// <param name="Rule">The [Rule] name it binds.</param>
/// <param name="Plugin">The plugin folder the rule comes from, or null.</param>
/// <param name="SensorTypes">The sensor types it narrows the rule to, or null.</param>
/// <param name="Areas">The areas it runs for, or null.</param>
/// <param name="Enabled">Whether it runs.</param>
/// <param name="Parameters">The parameters object, or null.</param>
/// <param name="ParametersValid">False when <c>parameters</c> was there but not an object.</param>
internal sealed record RuleEntry(
    string Label,
    string? Name,
    string? Rule,
    string? Plugin,
    IReadOnlyList<string>? SensorTypes,
    IReadOnlyList<string>? Areas,
    bool Enabled,
    JsonElement? Parameters,
    bool ParametersValid);

/// <summary>Reads a rules file: <c>{"rules":[{"name":…,"rule":…,"plugin":…,"sensorTypes":[…],"areas":[…],"enabled":…,"parameters":{…}}]}</c>.</summary>
internal static class RulesFile
{
    private static readonly string[] RootFields = ["rules"];
    private static readonly string[] EntryFields = ["name", "rule", "plugin", "sensorTypes", "areas", "enabled", "parameters"];

    private static readonly JsonDocumentOptions Options = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    /// <summary>Parses the file, adding every mistake to <paramref name="errors"/>.</summary>
    /// <exception cref="RulesFileException">The file cannot be read or is not valid JSON.</exception>
    public static IReadOnlyList<RuleEntry> Read(string path, string file, List<string> errors)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new RulesFileException($"{file}: cannot be read: {e.Message}", e);
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(text, Options);
        }
        catch (JsonException e)
        {
            var line = (e.LineNumber ?? 0) + 1;
            var position = (e.BytePositionInLine ?? 0) + 1;
            var reason = e.Message.Split(" Path:", 2)[0].Split(" LineNumber:", 2)[0].Trim();
            throw new RulesFileException($"{file}: not valid JSON at line {line}, position {position}: {reason}", e);
        }

        using (document)
        {
            return Read(document.RootElement, file, errors);
        }
    }

    private static List<RuleEntry> Read(JsonElement root, string file, List<string> errors)
    {
        var entries = new List<RuleEntry>();
        if (root.ValueKind != JsonValueKind.Object)
        {
            errors.Add($"{file}: must be an object with a 'rules' array, not {Describe(root)}");
            return entries;
        }

        var fields = Fields(root, RootFields, field => errors.Add($"{file}: field '{field.Name}': {field.Problem}"));
        if (!fields.TryGetValue("rules", out var rules))
        {
            errors.Add($"{file}: field 'rules': is required");
            return entries;
        }

        if (rules.ValueKind != JsonValueKind.Array)
        {
            errors.Add($"{file}: field 'rules': must be an array, not {Describe(rules)}");
            return entries;
        }

        var index = 0;
        foreach (var element in rules.EnumerateArray())
        {
            if (ReadEntry(element, $"rules[{index}]", file, errors) is { } entry)
            {
                entries.Add(entry);
            }

            index++;
        }

        return entries;
    }

    private static RuleEntry? ReadEntry(JsonElement element, string position, string file, List<string> errors)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            errors.Add($"{file}: {position}: must be an object, not {Describe(element)}");
            return null;
        }

        var raw = element.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String && !string.IsNullOrWhiteSpace(n.GetString())
            ? n.GetString()
            : null;
        var label = raw is null ? position : $"rule '{raw}'";
        void Error(string field, string problem) => errors.Add($"{file}: {label}: field '{field}': {problem}");

        var fields = Fields(element, EntryFields, field => Error(field.Name, field.Problem));
        var name = Text(fields, "name", required: true, Error);
        var rule = Text(fields, "rule", required: true, Error);
        var plugin = Text(fields, "plugin", required: false, Error);
        var sensorTypes = List(fields, "sensorTypes", Error);
        var areas = List(fields, "areas", Error);
        var enabled = true;
        if (fields.TryGetValue("enabled", out var e))
        {
            if (e.ValueKind is JsonValueKind.True or JsonValueKind.False)
            {
                enabled = e.GetBoolean();
            }
            else
            {
                Error("enabled", $"must be true or false, not {Describe(e)}");
            }
        }

        JsonElement? parameters = null;
        var parametersValid = true;
        if (fields.TryGetValue("parameters", out var p) && p.ValueKind != JsonValueKind.Null)
        {
            if (p.ValueKind == JsonValueKind.Object)
            {
                parameters = p.Clone();
            }
            else
            {
                parametersValid = false;
                Error("parameters", $"must be an object, not {Describe(p)}");
            }
        }

        return new RuleEntry(label, name, rule, plugin, sensorTypes, areas, enabled, parameters, parametersValid);
    }

    /// <summary>The object's fields by name; unknown and repeated ones are reported.</summary>
    private static Dictionary<string, JsonElement> Fields(JsonElement element, string[] known, Action<(string Name, string Problem)> error)
    {
        var fields = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var property in element.EnumerateObject())
        {
            if (!known.Contains(property.Name, StringComparer.Ordinal))
            {
                var like = known.FirstOrDefault(k => string.Equals(k, property.Name, StringComparison.OrdinalIgnoreCase));
                error((property.Name, like is null
                    ? $"unknown field (known: {string.Join(", ", known)})"
                    : $"unknown field (did you mean '{like}'?)"));
            }
            else if (!fields.TryAdd(property.Name, property.Value))
            {
                error((property.Name, "given twice"));
            }
        }

        return fields;
    }

    private static string? Text(Dictionary<string, JsonElement> fields, string name, bool required, Action<string, string> error)
    {
        if (!fields.TryGetValue(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            if (required)
            {
                error(name, "is required");
            }

            return null;
        }

        if (value.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(value.GetString()))
        {
            error(name, $"must be a non-empty string, not {Describe(value)}");
            return null;
        }

        return value.GetString();
    }

    private static List<string>? List(Dictionary<string, JsonElement> fields, string name, Action<string, string> error)
    {
        if (!fields.TryGetValue(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Array)
        {
            error(name, $"must be an array of strings, not {Describe(value)}");
            return null;
        }

        var items = new List<string>();
        var index = 0;
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind == JsonValueKind.String && !string.IsNullOrWhiteSpace(item.GetString()))
            {
                items.Add(item.GetString()!);
            }
            else
            {
                error($"{name}[{index}]", $"must be a non-empty string, not {Describe(item)}");
            }

            index++;
        }

        return items;
    }

    /// <summary>A JSON value as an error shows it: strings quoted, objects and arrays by kind.</summary>
    public static string Describe(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.String => $"\"{element.GetString()}\"",
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        _ => element.GetRawText(),
    };

    /// <summary>The value as compact JSON with object fields in ordinal order, so equal parameters compare equal.</summary>
    public static string Canonical(JsonElement? element)
    {
        if (element is null)
        {
            return "{}";
        }

        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            WriteCanonical(writer, element.Value);
        }

        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void WriteCanonical(Utf8JsonWriter writer, JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var property in element.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(property.Name);
                    WriteCanonical(writer, property.Value);
                }

                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in element.EnumerateArray())
                {
                    WriteCanonical(writer, item);
                }

                writer.WriteEndArray();
                break;
            default:
                element.WriteTo(writer);
                break;
        }
    }
}
