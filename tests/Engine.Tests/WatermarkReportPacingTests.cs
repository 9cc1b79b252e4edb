namespace Kommune.Engine.Tests;

public sealed class WatermarkReportPacingTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 6, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Announce = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan Longest = TimeSpan.FromSeconds(1);

    [Fact]
    public void Up_to_twelve_partitions_every_report_is_written_as_it_passes()
    {
        var pacing = new WatermarkReportPacing<string>(12, Announce, Longest);

        Assert.Equal(TimeSpan.Zero, pacing.Spacing);
        Assert.Equal("w1", pacing.Passed("w1", T0));
        Assert.Equal("w2", pacing.Passed("w2", T0.AddMilliseconds(1)));
        Assert.Null(pacing.Due(T0.AddSeconds(1)));
    }

    [Fact]
    public void With_more_partitions_reports_are_spaced_the_newest_waits_and_none_is_lost()
    {
        var pacing = new WatermarkReportPacing<string>(120, Announce, Longest); // 120 records a report: 2 reports a second

        Assert.Equal(TimeSpan.FromMilliseconds(500), pacing.Spacing);
        Assert.Equal("w1", pacing.Passed("w1", T0));
        Assert.Null(pacing.Passed("w2", T0.AddMilliseconds(100)));
        Assert.Null(pacing.Passed("w3", T0.AddMilliseconds(200))); // replaces w2: w3 covers what w2 did
        Assert.Null(pacing.Due(T0.AddMilliseconds(400)));
        Assert.Equal("w3", pacing.Due(T0.AddMilliseconds(500)));
        Assert.Null(pacing.Due(T0.AddSeconds(5))); // written once

        Assert.Null(pacing.Passed("w4", T0.AddMilliseconds(600)));
        Assert.Equal("w5", pacing.Passed("w5", T0.AddMilliseconds(1000)));
        Assert.Null(pacing.Due(T0.AddSeconds(5))); // w5 was written in w4's place
    }

    [Fact]
    public void The_spacing_is_never_longer_than_the_longest_and_a_hand_over_takes_the_held_report_at_once()
    {
        var pacing = new WatermarkReportPacing<string>(4096, Announce, Longest);

        Assert.Equal(Longest, pacing.Spacing);
        Assert.Equal("w1", pacing.Passed("w1", T0));
        Assert.Null(pacing.Passed("w2", T0.AddMilliseconds(10)));
        Assert.Equal("w2", pacing.Flush(T0.AddMilliseconds(20)));
        Assert.Null(pacing.Flush(T0.AddMilliseconds(30)));
        Assert.Null(pacing.Passed("w3", T0.AddMilliseconds(40))); // the flush counts as a write
        Assert.Equal("w3", pacing.Due(T0.AddMilliseconds(1020)));
    }
}
