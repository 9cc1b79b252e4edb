using System.Text.Json;
using Kommune.Rules.Api;

namespace Kommune.Rules.Runtime;

/// <summary>
/// What a key's persisted state (<see cref="KeyedRuleRunner.PersistedState"/>) says about the key without its rules'
/// values being read: whose it is, which bindings wrote it, whether it holds open alerts, and when its timers are due.
/// Enough for the engine to keep a restored key as its bytes until it is needed (<see cref="Read"/> does not allocate
/// per value, where <see cref="KeyedStateSnapshot.FromJson"/> copies each one).
/// </summary>
/// <param name="Scope">Sensor or area.</param>
/// <param name="Key">The sensor or area id.</param>
/// <param name="AreaId">The key's area.</param>
/// <param name="LastEventTime">The newest event time the key had handled.</param>
/// <param name="Bindings">Per binding that holds state: its name and its fingerprint when the state was written.</param>
/// <param name="HasOpenAlerts">Whether some binding holds an open alert.</param>
/// <param name="NextEventTimeTimer">The earliest event-time timer, or null.</param>
/// <param name="NextProcessingTimeTimer">The earliest processing-time timer, or null.</param>
internal sealed record KeyedStateHeader(
    RuleScope Scope,
    string Key,
    string AreaId,
    DateTimeOffset LastEventTime,
    IReadOnlyList<(string Name, string Fingerprint)> Bindings,
    bool HasOpenAlerts,
    DateTimeOffset? NextEventTimeTimer,
    DateTimeOffset? NextProcessingTimeTimer)
{
    /// <summary>
    /// Whether restoring the state into a runner of <paramref name="rules"/> would take it as it was: every binding that
    /// wrote it is bound to the key's area now with the same fingerprint (otherwise the restore carries or drops state,
    /// as a reload does, and may emit).
    /// </summary>
    public bool RestoresUnchangedUnder(RuleSet rules)
    {
        ArgumentNullException.ThrowIfNull(rules);
        var bound = rules.For(Scope, AreaId);
        foreach (var (name, fingerprint) in Bindings)
        {
            var found = false;
            foreach (var binding in bound)
            {
                if (binding.Name == name)
                {
                    found = binding.Fingerprint == fingerprint;
                    break;
                }
            }

            if (!found)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The header of a state already read whole.</summary>
    public static KeyedStateHeader Of(KeyedStateSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var bindings = new List<(string, string)>(snapshot.Rules.Count);
        var openAlerts = false;
        DateTimeOffset? nextEventTime = null, nextProcessingTime = null;
        foreach (var rule in snapshot.Rules)
        {
            bindings.Add((rule.Name, rule.Fingerprint));
            openAlerts |= rule.OpenAlerts.Count > 0;
            foreach (var timer in rule.Timers)
            {
                NoteTimer(timer.Domain, timer.Time, ref nextEventTime, ref nextProcessingTime);
            }
        }

        return new KeyedStateHeader(snapshot.Scope, snapshot.Key, snapshot.AreaId, snapshot.LastEventTime, bindings, openAlerts, nextEventTime, nextProcessingTime);
    }

    /// <summary>
    /// Reads the header of a state written by <see cref="KeyedRuleRunner.PersistedState"/> or
    /// <see cref="KeyedStateSnapshot.ToJson"/>, checking that the whole of it is JSON.
    /// </summary>
    /// <returns>The header, or null when the state is not in the shape those write (read it with
    /// <see cref="KeyedStateSnapshot.FromJson"/>, which says what is wrong, or reads a shape this does not).</returns>
    public static KeyedStateHeader? Read(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            return ReadState(ref reader);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static KeyedStateHeader? ReadState(ref Utf8JsonReader reader)
    {
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return null;
        }

        RuleScope? scope = null;
        string? key = null, areaId = null;
        DateTimeOffset? lastEventTime = null;
        List<(string, string)>? bindings = null;
        var openAlerts = false;
        DateTimeOffset? nextEventTime = null, nextProcessingTime = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("scope"u8))
            {
                scope = reader.Read() ? Enum<RuleScope>(ref reader) : null;
                if (scope is null)
                {
                    return null;
                }
            }
            else if (reader.ValueTextEquals("key"u8))
            {
                key = NextString(ref reader);
                if (key is null)
                {
                    return null;
                }
            }
            else if (reader.ValueTextEquals("areaId"u8))
            {
                areaId = NextString(ref reader);
                if (areaId is null)
                {
                    return null;
                }
            }
            else if (reader.ValueTextEquals("lastEventTime"u8))
            {
                if (!reader.Read() || reader.TokenType != JsonTokenType.String || !reader.TryGetDateTimeOffset(out var time))
                {
                    return null;
                }

                lastEventTime = time;
            }
            else if (reader.ValueTextEquals("rules"u8))
            {
                bindings = [];
                if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray
                    || !ReadRules(ref reader, bindings, ref openAlerts, ref nextEventTime, ref nextProcessingTime))
                {
                    return null;
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        if (reader.TokenType != JsonTokenType.EndObject || reader.Read() || scope is null || key is null || areaId is null
            || lastEventTime is null || bindings is null)
        {
            return null;
        }

        return new KeyedStateHeader(scope.Value, key, areaId, lastEventTime.Value, bindings, openAlerts, nextEventTime, nextProcessingTime);
    }

    private static bool ReadRules(ref Utf8JsonReader reader, List<(string, string)> bindings, ref bool openAlerts, ref DateTimeOffset? nextEventTime, ref DateTimeOffset? nextProcessingTime)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
        {
            string? name = null, fingerprint = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("name"u8))
                {
                    name = NextString(ref reader);
                    if (name is null)
                    {
                        return false;
                    }
                }
                else if (reader.ValueTextEquals("fingerprint"u8))
                {
                    fingerprint = NextString(ref reader);
                    if (fingerprint is null)
                    {
                        return false;
                    }
                }
                else if (reader.ValueTextEquals("openAlerts"u8))
                {
                    if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                    {
                        return false;
                    }

                    openAlerts |= reader.Read() && reader.TokenType != JsonTokenType.EndObject;
                    if (reader.TokenType != JsonTokenType.EndObject)
                    {
                        SkipToEndOfObject(ref reader);
                    }
                }
                else if (reader.ValueTextEquals("timers"u8))
                {
                    if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray || !ReadTimers(ref reader, ref nextEventTime, ref nextProcessingTime))
                    {
                        return false;
                    }
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject || name is null || fingerprint is null)
            {
                return false;
            }

            bindings.Add((name, fingerprint));
        }

        return reader.TokenType == JsonTokenType.EndArray;
    }

    // The reader stands on the first property name of an object: skips the rest of the object, ending on its EndObject.
    private static void SkipToEndOfObject(ref Utf8JsonReader reader)
    {
        while (reader.TokenType == JsonTokenType.PropertyName)
        {
            reader.Read();
            reader.Skip();
            reader.Read();
        }
    }

    private static bool ReadTimers(ref Utf8JsonReader reader, ref DateTimeOffset? nextEventTime, ref DateTimeOffset? nextProcessingTime)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
        {
            DateTimeOffset? time = null;
            TimeDomain? domain = null;
            var named = false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("time"u8))
                {
                    time = reader.Read() && reader.TokenType == JsonTokenType.String && reader.TryGetDateTimeOffset(out var t) ? t : null;
                }
                else if (reader.ValueTextEquals("domain"u8))
                {
                    domain = reader.Read() ? Enum<TimeDomain>(ref reader) : null;
                }
                else if (reader.ValueTextEquals("name"u8))
                {
                    named = reader.Read() && reader.TokenType == JsonTokenType.String;
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject || time is null || domain is null || !named)
            {
                return false;
            }

            NoteTimer(domain.Value, time.Value, ref nextEventTime, ref nextProcessingTime);
        }

        return reader.TokenType == JsonTokenType.EndArray;
    }

    // The next value when it is a string, otherwise null.
    private static string? NextString(ref Utf8JsonReader reader) =>
        reader.Read() && reader.TokenType == JsonTokenType.String ? reader.GetString() : null;

    // Keeps the earliest timer of each domain.
    private static void NoteTimer(TimeDomain domain, DateTimeOffset time, ref DateTimeOffset? nextEventTime, ref DateTimeOffset? nextProcessingTime)
    {
        ref var next = ref domain == TimeDomain.EventTime ? ref nextEventTime : ref nextProcessingTime;
        if (next is not { } known || time < known)
        {
            next = time;
        }
    }

    // As JsonStringEnumConverter writes it (the member's name); anything else is left to the full reader.
    private static T? Enum<T>(ref Utf8JsonReader reader)
        where T : struct, Enum
    {
        if (reader.TokenType != JsonTokenType.String || reader.GetString() is not { Length: > 0 } name || !char.IsLetter(name[0]))
        {
            return null;
        }

        return System.Enum.TryParse<T>(name, ignoreCase: false, out var value) && System.Enum.IsDefined(value) ? value : null;
    }
}
