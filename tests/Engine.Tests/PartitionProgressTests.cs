namespace Kommune.Engine.Tests;

/// <summary>A partition's time as of any offset it may be committed at: what the events before that offset made, no more.</summary>
public sealed class PartitionProgressTests
{
    private static readonly DateTimeOffset T = new(2026, 12, 3, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public void The_time_as_of_an_offset_is_what_the_events_before_it_made()
    {
        var progress = new PartitionProgress(start: 100, watermark: T);
        Judge(progress, 100, T.AddSeconds(10));
        Judge(progress, 101, T.AddSeconds(10)); // an event out of order: the partition's time stays
        Judge(progress, 102, T.AddSeconds(20));

        Assert.Equal(T, progress.WatermarkAt(100));
        Assert.Equal(T.AddSeconds(10), progress.WatermarkAt(101));
        Assert.Equal(T.AddSeconds(10), progress.WatermarkAt(102));
        Assert.Equal(T.AddSeconds(20), progress.WatermarkAt(103));
        Assert.Equal(103, progress.NextToJudge);
    }

    [Fact]
    public void A_partition_without_a_time_to_start_from_has_none_before_its_first_event()
    {
        var progress = new PartitionProgress(start: 0, watermark: null);
        Assert.Equal(0, progress.NextToJudge);
        Assert.Equal(DateTimeOffset.MinValue, progress.WatermarkAt(0));

        Judge(progress, 0, T);
        Assert.Equal(DateTimeOffset.MinValue, progress.WatermarkAt(0));
        Assert.Equal(T, progress.WatermarkAt(1));
    }

    [Fact]
    public void Asked_for_a_later_offset_it_forgets_the_earlier_rises_and_keeps_the_last()
    {
        var progress = new PartitionProgress(start: 0, watermark: null);
        for (var offset = 0; offset < 10; offset++)
        {
            Judge(progress, offset, T.AddSeconds(offset));
        }

        Assert.Equal(T.AddSeconds(4), progress.WatermarkAt(5));
        Assert.Equal(T.AddSeconds(4), progress.WatermarkAt(5)); // asked again: the same
        Assert.Equal(T.AddSeconds(9), progress.WatermarkAt(50));
    }

    [Fact]
    public void Only_a_time_later_than_the_last_written_is_to_be_written()
    {
        var progress = new PartitionProgress(start: 0, watermark: null);
        Assert.False(progress.TimeWritten(DateTimeOffset.MinValue));
        Assert.True(progress.TimeWritten(T));
        Assert.False(progress.TimeWritten(T));
        Assert.True(progress.TimeWritten(T.AddSeconds(1)));
    }

    /// <summary>An event judged, after which the partition's own watermark (as the tracker gives it) is <paramref name="own"/>.</summary>
    private static void Judge(PartitionProgress progress, long offset, DateTimeOffset own)
    {
        progress.Judged(offset);
        progress.WatermarkAfter(offset, own);
    }
}
