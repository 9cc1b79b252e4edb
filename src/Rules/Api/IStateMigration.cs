namespace Kommune.Rules.Api;

/// <summary>
/// One key's state values of one rule binding, as an older (or newer) build of the rule left them, handed to
/// <see cref="Rule.MigrateState"/> to be rewritten in this build's shape. Values are held as JSON, so a value written
/// by a type of the old build is read here with a type of this build (or as <see cref="System.Text.Json.JsonElement"/>).
/// Valid only during the call it was passed to.
/// </summary>
public interface IStateMigration
{
    /// <summary>The key: the sensor id for sensor-scoped rules, the area id for area-scoped rules.</summary>
    string Key { get; }

    /// <summary>The area of the key.</summary>
    string AreaId { get; }

    /// <summary>The names of the values held.</summary>
    IReadOnlyCollection<string> Names { get; }

    /// <summary>Whether a value of that name is held.</summary>
    bool Has(string name);

    /// <summary>The value read as <typeparamref name="T"/>, or default when none is held.</summary>
    /// <exception cref="System.Text.Json.JsonException">The value does not fit <typeparamref name="T"/>.</exception>
    T? Read<T>(string name);

    /// <summary>Sets the value (replacing any held under that name), to be read by this build as <typeparamref name="T"/>.</summary>
    void Write<T>(string name, T value);

    /// <summary>Removes the value; false when none was held.</summary>
    bool Remove(string name);
}
