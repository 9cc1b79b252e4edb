using System.Text;
using Kommune.Connectors.Codecs;

namespace Kommune.Web.Boards;

/// <summary>
/// Dead letters counted by stage and reason code, and the latest <see cref="LatestKept"/>, so an operator can tell a
/// broken gateway (many decode refusals) from silence. Keys and values are kept as text, cut short. Not thread-safe.
/// </summary>
internal sealed class DeadLetterBook
{
    /// <summary>How many of the latest dead letters are listed.</summary>
    public const int LatestKept = 20;

    private const int MaxTextLength = 300;
    private readonly Dictionary<(string Stage, string Code), long> _counts = [];
    private readonly Queue<DeadLetterView> _latest = new();
    private long _total;

    /// <summary>Applies one dead letter.</summary>
    public void Apply(string stage, string reason, string? sourceTopic, string? sourcePartition, string? sourceOffset, byte[]? key, byte[]? value, DateTimeOffset at)
    {
        var code = DeadLetterReasons.Code(stage, reason);
        _counts[(stage, code)] = _counts.GetValueOrDefault((stage, code)) + 1;
        _total++;
        _latest.Enqueue(new DeadLetterView(at, stage, code, Cut(reason), sourceTopic, sourcePartition, sourceOffset, Text(key), Text(value)));
        while (_latest.Count > LatestKept)
        {
            _latest.Dequeue();
        }
    }

    /// <summary>The counts (most first) and the latest dead letters (newest first).</summary>
    public DeadLetterSummary Summary() => new(
        _total,
        [.. _counts.OrderByDescending(c => c.Value).ThenBy(c => c.Key.Stage, StringComparer.Ordinal).Select(c => new DeadLetterCount(c.Key.Stage, c.Key.Code, c.Value))],
        [.. _latest.Reverse()]);

    private static string? Text(byte[]? bytes) =>
        bytes is null ? null : Cut(Encoding.UTF8.GetString(bytes, 0, Math.Min(bytes.Length, MaxTextLength * 4)));

    private static string Cut(string text) => text.Length <= MaxTextLength ? text : string.Concat(text.AsSpan(0, MaxTextLength), "…");
}
