using Kommune.Engine.Tests.Support;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests.ScaleOut;

[Collection(ScaleOutTests.Name)]
public sealed class ScratchTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Scratch_in_process()
    {
        var input = new ScaleOutInput(12, sensors: 2_000, duration: TimeSpan.FromMinutes(12), spacing: TimeSpan.FromMilliseconds(30), fallsPerMinute: 12);
        using var bed = new KafkaTestBed(output, 12);
        var rules = Path.GetTempFileName();
        File.WriteAllText(rules, SameAnswerTests.Rules);
        input.ProduceAll(bed);
        await using var engine = await bed.StartEngineAsync(o => { o.RulesFile = rules; o.IdlePartitionTimeout = TimeSpan.FromMinutes(10); o.PersistState = true; });
        await TopicReader.WaitForAsync(bed.BootstrapServers, bed.Options.Topics.Aggregates, 12, input.MarkersOut, v => $"markers not out: {v.Count}");
    }
}
