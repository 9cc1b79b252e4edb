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
            var made = new Cell<T>();
            _cells[name] = made;
            return made;
        }

        if (cell is Cell<T> typed)
        {
            return typed;
        }

        if (cell.Type is { } type)
        {
            throw new InvalidOperationException($"State '{name}' holds {type.Name}, not {typeof(T).Name}: use one type per state name.");
        }

        // Restored (or detached): read as T on first use, and from then on held as a T.
        var read = new Cell<T>();
        read.Update(cell.ToJsonElement().Deserialize<T>(KeyedStateSnapshot.JsonOptions)!);
        _cells[name] = read;
        return read;
    }

    public Dictionary<string, JsonElement> SnapshotValues()
    {
        var values = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var (name, cell) in _cells)
        {
            if (cell.HasValue)
            {
                values[name] = cell.ToJsonElement();
            }
        }

        return values;
    }

    /// <summary>Writes the named values as the properties of the open JSON object, as <see cref="SnapshotValues"/> has them.</summary>
    public void WriteValues(Utf8JsonWriter writer)
    {
        foreach (var (name, cell) in _cells)
        {
            if (cell.HasValue)
            {
                writer.WritePropertyName(name);
                cell.WriteTo(writer);
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
            }
            else if (cell.Type is not null)
            {
                _cells[name] = new JsonCell(cell.ToJsonElement());
            }
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

        if (cell is Cell<T> typed)
        {
            return typed.Value;
        }

        return cell.ToJsonElement().Deserialize<T>(KeyedStateSnapshot.JsonOptions);
    }

    /// <summary>Sets the value under <paramref name="name"/>, of type <typeparamref name="T"/> from now on.</summary>
    public void Write<T>(string name, T value)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var cell = new Cell<T>();
        cell.Update(value);
        _cells[name] = cell;
    }

    /// <summary>Removes the value; false when none was held.</summary>
    public bool Remove(string name) => _cells.Remove(name, out var cell) && cell.HasValue;

    public void Restore(RuleStateSnapshot snapshot)
    {
        foreach (var (name, json) in snapshot.Values)
        {
            _cells[name] = new JsonCell(json.Clone());
        }

        foreach (var (incident, alert) in snapshot.OpenAlerts)
        {
            SetOpenAlert(incident, alert);
        }
    }

    /// <summary>One named value: as the JSON it was restored from until the rule reads it with its type, then as that type.</summary>
    private abstract class Cell
    {
        /// <summary>The type the rule reads it as; null while it is only JSON.</summary>
        public abstract Type? Type { get; }

        public abstract bool HasValue { get; }

        /// <summary>The value as JSON (only when <see cref="HasValue"/>).</summary>
        public abstract JsonElement ToJsonElement();

        /// <summary>Writes the value as JSON (only when <see cref="HasValue"/>).</summary>
        public abstract void WriteTo(Utf8JsonWriter writer);
    }

    /// <summary>A restored (or detached) value, not read yet.</summary>
    private sealed class JsonCell(JsonElement json) : Cell
    {
        public override Type? Type => null;

        public override bool HasValue => true;

        public override JsonElement ToJsonElement() => json;

        public override void WriteTo(Utf8JsonWriter writer) => json.WriteTo(writer);
    }

    /// <summary>
    /// A value of type <typeparamref name="T"/>, held as a <typeparamref name="T"/> (a number, a time or a struct is not
    /// boxed at each update: the box outlived young collections in the key's long-lived state) and handed out as the
    /// rule's <see cref="IValueState{T}"/> itself, so a read or an update allocates nothing.
    /// </summary>
    private sealed class Cell<T> : Cell, IValueState<T>
    {
        private T? _value;
        private bool _hasValue;

        public override Type Type => typeof(T);

        public override bool HasValue => _hasValue;

        public T? Value => _hasValue ? _value : default;

        public void Update(T value)
        {
            _value = value;
            _hasValue = true;
        }

        public void Clear()
        {
            _value = default;
            _hasValue = false;
        }

        public override JsonElement ToJsonElement() => JsonSerializer.SerializeToElement(_value, KeyedStateSnapshot.JsonOptions);

        public override void WriteTo(Utf8JsonWriter writer) => JsonSerializer.Serialize(writer, _value, KeyedStateSnapshot.JsonOptions);
    }
}
