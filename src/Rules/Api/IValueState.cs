namespace Kommune.Rules.Api;

/// <summary>
/// One named value of keyed state, for the current key (sensor or area) of one rule. The value must be
/// serializable with System.Text.Json (records, lists, dictionaries and numbers are): the engine snapshots it.
/// </summary>
/// <typeparam name="T">The value's type.</typeparam>
public interface IValueState<T>
{
    /// <summary>Whether a value is set.</summary>
    bool HasValue { get; }

    /// <summary>The value, or default when none is set.</summary>
    T? Value { get; }

    /// <summary>Sets the value (replacing any earlier one).</summary>
    void Update(T value);

    /// <summary>Removes the value.</summary>
    void Clear();
}
