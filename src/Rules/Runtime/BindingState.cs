using System.Text.Json;
using Kommune.Rules.Api;
using Kommune.Rules.Model;

namespace Kommune.Rules.Runtime;

/// <summary>
/// The keyed state of one rule binding for one key: named values and open alerts. Restored values stay JSON until
/// the rule first asks for them with their type.
/// </summary>
internal sealed class BindingState
{
    private static readonly Dictionary<string, Alert> NoAlerts = new(StringComparer.Ordinal); // never written to

    private readonly Dictionary<string, Cell> _cells = new(StringComparer.Ordinal);
    private Dictionary<string, Alert>? _openAlerts; // made on the first alert raised: most keys never raise one

    /// <summary>Open alerts by incident.</summary>
    public IReadOnlyDictionary<string, Alert> OpenAlerts => _openAlerts ?? NoAlerts;

    public bool IsEmpty => OpenAlerts.Count == 0 && _cells.Values.All(c => !c.HasValue);

    /// <summary>Opens an alert for <paramref name="incident"/>, or replaces the one open.</summary>
    public void SetOpenAlert(string incident, Alert alert) => (_openAlerts ??= new(StringComparer.Ordinal))[incident] = alert;

    /// <summary>Closes the open alert of <paramref name="incident"/>; false when none is open.</summary>
    public bool RemoveOpenAlert(string incident, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out Alert alert)
    {
        alert = null;
        return _openAlerts is not null && _openAlerts.Remove(incident, out alert);
    }

    public IValueState<T> Get<T>(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (!_cells.TryGetValue(name, out var cell))
        {
            cell = new Cell { Type = typeof(T) };
            _cells[name] = cell;
        }
        else if (cell.Type is null)
        {
            cell.Type = typeof(T);
            if (cell.Json is { } json)
            {
                cell.Value = json.Deserialize<T>(KeyedStateSnapshot.JsonOptions);
                cell.Json = null;
            }
        }
        else if (cell.Type != typeof(T))
        {
            throw new InvalidOperationException($"State '{name}' holds {cell.Type.Name}, not {typeof(T).Name}: use one type per state name.");
        }

        return (IValueState<T>)(cell.Handle ??= new ValueState<T>(cell));
    }

    public Dictionary<string, JsonElement> SnapshotValues()
    {
        var values = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var (name, cell) in _cells)
        {
            if (cell.Json is { } json)
            {
                values[name] = json;
            }
            else if (cell.HasValue)
            {
                values[name] = JsonSerializer.SerializeToElement(cell.Value, cell.Type!, KeyedStateSnapshot.JsonOptions);
            }
        }

        return values;
    }

    /// <summary>Writes the named values as the properties of the open JSON object, as <see cref="SnapshotValues"/> has them.</summary>
    public void WriteValues(Utf8JsonWriter writer)
    {
        foreach (var (name, cell) in _cells)
        {
            if (cell.Json is { } json)
            {
                writer.WritePropertyName(name);
                json.WriteTo(writer);
            }
            else if (cell.HasValue)
            {
                writer.WritePropertyName(name);
                JsonSerializer.Serialize(writer, cell.Value, cell.Type!, KeyedStateSnapshot.JsonOptions);
            }
        }
    }

    /// <summary>
    /// Turns every value into its JSON and forgets its type and handle, as a restored value is: the next build of the
    /// rule (other types, in another load context) reads them afresh, and nothing keeps the old build's objects alive.
    /// </summary>
    public void Detach()
    {
        foreach (var (name, cell) in _cells.ToList())
        {
            if (!cell.HasValue)
            {
                _cells.Remove(name);
                continue;
            }

            if (cell.Json is null)
            {
                cell.Json = JsonSerializer.SerializeToElement(cell.Value, cell.Type!, KeyedStateSnapshot.JsonOptions);
            }

            cell.Type = null;
            cell.Value = null;
            cell.Handle = null;
        }
    }

    /// <summary>The names of the values held.</summary>
    public IReadOnlyCollection<string> Names => [.. _cells.Where(c => c.Value.HasValue).Select(c => c.Key)];

    /// <summary>Whether a value of that name is held.</summary>
    public bool Has(string name) => _cells.TryGetValue(name, out var cell) && cell.HasValue;

    /// <summary>The value read as <typeparamref name="T"/> from its JSON (or as it is, when it is one), default when none is held.</summary>
    public T? Read<T>(string name)
    {
        if (!_cells.TryGetValue(name, out var cell) || !cell.HasValue)
        {
            return default;
        }

        if (cell.Type == typeof(T))
        {
            return (T?)cell.Value;
        }

        var json = cell.Json ?? JsonSerializer.SerializeToElement(cell.Value, cell.Type!, KeyedStateSnapshot.JsonOptions);
        return json.Deserialize<T>(KeyedStateSnapshot.JsonOptions);
    }

    /// <summary>Sets the value under <paramref name="name"/>, of type <typeparamref name="T"/> from now on.</summary>
    public void Write<T>(string name, T value)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        _cells[name] = new Cell { Type = typeof(T), Value = value, HasValue = true };
    }

    /// <summary>Removes the value; false when none was held.</summary>
    public bool Remove(string name) => _cells.Remove(name, out var cell) && cell.HasValue;

    public void Restore(RuleStateSnapshot snapshot)
    {
        foreach (var (name, json) in snapshot.Values)
        {
            _cells[name] = new Cell { Json = json.Clone(), HasValue = true };
        }

        foreach (var (incident, alert) in snapshot.OpenAlerts)
        {
            SetOpenAlert(incident, alert);
        }
    }

    private sealed class Cell
    {
        public Type? Type { get; set; }

        public object? Value { get; set; }

        public JsonElement? Json { get; set; }

        public bool HasValue { get; set; }

        /// <summary>The one <see cref="IValueState{T}"/> handed out for this cell, so a read allocates nothing.</summary>
        public object? Handle { get; set; }
    }

    private sealed class ValueState<T>(Cell cell) : IValueState<T>
    {
        public bool HasValue => cell.HasValue;

        public T? Value => cell.HasValue ? (T?)cell.Value : default;

        public void Update(T value)
        {
            cell.Value = value;
            cell.HasValue = true;
        }

        public void Clear()
        {
            cell.Value = null;
            cell.HasValue = false;
        }
    }
}
