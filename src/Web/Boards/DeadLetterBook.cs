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

    /// <summary>Applies one dead letter, counted by its stage and its code header (<paramref name="code"/>; see <see cref="CodeOf"/>).</summary>
    public void Apply(string stage, string? code, string reason, string? sourceTopic, string? sourcePartition, string? sourceOffset, byte[]? key, byte[]? value, DateTimeOffset at)
    {
        code = CodeOf(stage, code);
        _counts[(stage, code)] = _counts.GetValueOrDefault((stage, code)) + 1;
        _total++;
        _latest.Enqueue(new DeadLetterView(at, stage, code, Cut(reason), sourceTopic, sourcePartition, sourceOffset, Text(key), Text(value)));
        while (_latest.Count > LatestKept)
        {
            _latest.Dequeue();
        }
    }

    /// <summary>
    /// A dead letter's code as counted: its code header when it names a known code; for one without (written before
    /// the header existed, or by something else), the code of its stage when the stage has only one, else <c>other</c>.
    /// The reason text is never read for a code.
    /// </summary>
    public static string CodeOf(string stage, string? header)
    {
        if (DeadLetterCode.FromLabel(header) is { } known)
        {
            return known.Label;
        }

        var ofStage = DeadLetterCode.All.Where(c => c.Stage.Label == stage).ToList();
        return ofStage.Count == 1 ? ofStage[0].Label : DeadLetterCode.Other.Label;
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
