using Kommune.Web.Boards;

namespace Kommune.Web.Tests;

/// <summary>The console counts dead letters by their code header, never by their reason text.</summary>
public sealed class DeadLetterBookTests
{
    [Theory]
    [InlineData("decode", "missing_field", "missing field 'ts'", "missing_field")]
    [InlineData("decode", "missing_field", "worded some new way", "missing_field")]
    [InlineData("decode", null, "missing field 'ts'", "other")] // written before the code header: the text is not read
    [InlineData("rule", null, "rule 'x' threw", "rule_failed")] // a stage with one code
    [InlineData("decode", "no such code", "malformed JSON: x", "other")]
    public void A_dead_letter_is_counted_by_its_code_header(string stage, string? header, string reason, string counted)
    {
        var book = new DeadLetterBook();
        book.Apply(stage, header, reason, "kommune.sensor-events", "0", "1", null, null, DateTimeOffset.UnixEpoch);

        var count = Assert.Single(book.Summary().Counts);
        Assert.Equal((stage, counted, 1L), (count.Stage, count.Code, count.Count));
        Assert.Equal(reason, Assert.Single(book.Summary().Latest).Reason);
    }
}
