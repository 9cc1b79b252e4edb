using System.Globalization;

namespace Kommune.Engine.Actors;

/// <summary>Makes actor names from sensor and area ids, which may hold any character.</summary>
internal static class ActorNames
{
    private static long _incarnation;

    /// <summary>
    /// A valid, unique actor name that still reads as the id: the id, escaped, plus an incarnation number (a
    /// passivated actor's name may still be in use while its next incarnation starts).
    /// </summary>
    public static string Unique(string id)
    {
        var escaped = Uri.EscapeDataString(id);
        if (escaped.StartsWith('$'))
        {
            escaped = "_" + escaped;
        }

        return string.Create(CultureInfo.InvariantCulture, $"{escaped}~{Interlocked.Increment(ref _incarnation)}");
    }
}
