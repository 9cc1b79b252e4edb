using System.Collections.Concurrent;
using System.Globalization;

namespace Kommune.Engine.Reloads;

/// <summary>
/// The alerts a reload of the rules closed (their rule was removed, or its state reset), most recent first kept, so a
/// command an operator sends for one is answered with what happened instead of "no open alert". Bounded: the
/// oldest are forgotten beyond <see cref="Capacity"/>. Safe from any thread.
/// </summary>
internal sealed class ClosedByReload
{
    /// <summary>How many closed alerts are remembered.</summary>
    public const int Capacity = 10_000;

    private readonly ConcurrentDictionary<string, (string Reason, DateTimeOffset At)> _closed = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _order = new();

    /// <summary>Notes that a reload closed <paramref name="alertId"/> for <paramref name="reason"/> at <paramref name="at"/>.</summary>
    public void Add(string alertId, string reason, DateTimeOffset at)
    {
        _closed[alertId] = (reason, at);
        _order.Enqueue(alertId);
        while (_order.Count > Capacity && _order.TryDequeue(out var oldest))
        {
            _closed.TryRemove(oldest, out _);
        }
    }

    /// <summary>
    /// Why a command for <paramref name="alertId"/> finds no open alert: closed by a reload (with the reason and when),
    /// or not open at all.
    /// </summary>
    public string NotOpen(string alertId) => _closed.TryGetValue(alertId, out var closed)
        ? string.Create(CultureInfo.InvariantCulture, $"alert '{alertId}' was closed by a rules reload at {closed.At:yyyy-MM-ddTHH:mm:ssZ} ({closed.Reason}): there is nothing to acknowledge or resolve")
        : $"no open alert '{alertId}'";
}
