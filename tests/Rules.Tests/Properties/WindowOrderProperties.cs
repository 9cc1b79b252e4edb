using CsCheck;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;
using Kommune.Rules.Testing;
using Kommune.Rules.Tests.Windows;
using Kommune.Rules.Windows;

namespace Kommune.Rules.Tests.Properties;

/// <summary>Window results do not depend on the order events arrive in, as long as the disorder is within the bound.</summary>
public sealed class WindowOrderProperties
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static readonly EventTimeSettings Settings = new()
    {
        OutOfOrderness = TimeSpan.FromSeconds(30),
        AllowedLateness = TimeSpan.FromSeconds(10),
    };

    private static readonly WindowSpec[] Specs =
    [
        WindowSpec.Tumbling(TimeSpan.FromMinutes(1)),
        WindowSpec.Hopping(TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(20)),
        WindowSpec.Session(TimeSpan.FromSeconds(15)),
    ];

    /// <summary>An in-order run: an offset, then (gap to the previous event in ms, value in quarters) per event.</summary>
    private static readonly Gen<(int Offset, List<(int Gap, int Quarters)> Events)> InOrder =
        Gen.Select(Gen.Int[0, 120_000], Gen.Select(Gen.Int[0, 20_000], Gen.Int[-400, 400]).List[1, 60]);

    /// <summary>Neighbour swaps to try, as positions in [0, 1): scaled to the sequence length.</summary>
    private static readonly Gen<List<double>> Swaps = Gen.Double[0, 1].List[0, 240];

    [Fact]
    public void Any_reordering_within_the_out_of_orderness_bound_gives_the_same_final_results()
    {
        var reorderedRuns = 0;
        Gen.Select(InOrder, Swaps).Sample((run, swaps) =>
        {
            var events = Build(run.Offset, run.Events);
            var reordered = Permute(events, swaps);
            Assert.True(WithinBound(reordered), "the permutation must keep the out-of-orderness bound");
            if (!reordered.SequenceEqual(events))
            {
                Interlocked.Increment(ref reorderedRuns);
            }

            var expected = Run(events);
            var actual = Run(reordered);

            Assert.Equal(expected, actual);
        }, iter: 150);

        Assert.True(reorderedRuns > 75, $"only {reorderedRuns} of 150 runs were reordered");
    }

    private static List<SensorEvent> Build(int offset, List<(int Gap, int Quarters)> gaps)
    {
        var time = T0.AddMilliseconds(offset);
        var events = new List<SensorEvent>(gaps.Count);
        foreach (var (gap, quarters) in gaps)
        {
            time = time.AddMilliseconds(gap);
            events.Add(new SensorEvent("s1", "area-1", "traffic", time, new Dictionary<string, SensorValue> { ["value"] = quarters / 4.0 }));
        }

        return events;
    }

    /// <summary>Swaps neighbours at the given positions, each only when the sequence stays within the bound.</summary>
    private static List<SensorEvent> Permute(List<SensorEvent> events, List<double> swaps)
    {
        var list = events.ToList();
        if (list.Count < 2)
        {
            return list;
        }

        foreach (var position in swaps)
        {
            var i = Math.Min((int)(position * (list.Count - 1)), list.Count - 2);
            (list[i], list[i + 1]) = (list[i + 1], list[i]);
            if (!WithinBound(list))
            {
                (list[i], list[i + 1]) = (list[i + 1], list[i]);
            }
        }

        return list;
    }

    /// <summary>Each event's time is at least the newest time sent before it minus the out-of-orderness.</summary>
    private static bool WithinBound(List<SensorEvent> events)
    {
        var newest = DateTimeOffset.MinValue;
        foreach (var e in events)
        {
            if (newest != DateTimeOffset.MinValue && e.Timestamp < newest - Settings.OutOfOrderness)
            {
                return false;
            }

            newest = e.Timestamp > newest ? e.Timestamp : newest;
        }

        return true;
    }

    /// <summary>The final result (the last one emitted) of every window, sorted.</summary>
    private static List<WindowSummary> Run(List<SensorEvent> events)
    {
        var rule = new WindowTestRule(Specs);
        var kit = new RuleTestKit(Settings).Bind(rule, "windows");
        foreach (var e in events)
        {
            Assert.True(kit.Send(e));
        }

        kit.AdvanceWatermarkTo(events.Max(e => e.Timestamp).AddHours(1));
        Assert.Empty(kit.Failures);
        Assert.Empty(rule.OtherTimers);
        Assert.Empty(kit.SensorState("s1")!.Rules);
        return
        [
            .. rule.Results
                .Select(WindowSummary.Of)
                .GroupBy(r => (r.Aggregation, r.Start))
                .Select(g => g.Last().Final)
                .OrderBy(r => r.Aggregation, StringComparer.Ordinal)
                .ThenBy(r => r.Start),
        ];
    }
}
