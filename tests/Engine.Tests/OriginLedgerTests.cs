using System.Text;
using System.Text.Json;
using Kommune.Engine.Actors;

namespace Kommune.Engine.Tests;

/// <summary>
/// The ledger an area keeps of the repartition records it applied, so a record written again by a sensor partition's
/// new owner is applied once, including after the area's state moved to another node.
/// </summary>
public sealed class OriginLedgerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 30, 10, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Horizon = TimeSpan.FromSeconds(20);

    [Fact]
    public void A_record_is_new_once()
    {
        var ledger = new OriginLedger();

        Assert.True(ledger.FirstTime("e:3:1069:-1", T0.AddMinutes(6)));
        Assert.False(ledger.FirstTime("e:3:1069:-1", T0.AddMinutes(6)));
        Assert.True(ledger.FirstTime(null, T0), "a record without an origin (an older version's) always is new");
    }

    [Fact]
    public void A_timers_fact_made_again_after_its_origin_was_forgotten_is_not_new()
    {
        var ledger = new OriginLedger();
        Assert.True(ledger.FirstTime(TimerFact(6), T0.AddMinutes(6)));

        ledger.Forget(T0.AddMinutes(9), Horizon);

        Assert.Equal(0, ledger.Count);
        Assert.False(ledger.FirstTime(TimerFact(6), T0.AddMinutes(6)));
        Assert.True(ledger.FirstTime(TimerFact(9), T0.AddMinutes(9)), "a fact after the line is new");
    }

    [Fact]
    public void An_events_origin_is_kept_past_the_horizon_until_a_floor_passes_it()
    {
        var ledger = new OriginLedger();
        Assert.True(ledger.FirstTime("e:3:1069:-1", T0.AddMinutes(6)));

        ledger.Forget(T0.AddMinutes(9), Horizon);

        Assert.Equal(1, ledger.Count);
        Assert.False(ledger.FirstTime("e:3:1069:-1", T0.AddMinutes(6)), "applied");

        ledger.Raise(new Dictionary<int, long> { [3] = 1070 });

        Assert.Equal(0, ledger.Count);
        Assert.False(ledger.FirstTime("e:3:1069:-1", T0.AddMinutes(6)), "below the floor");
    }

    [Fact]
    public void A_new_events_record_far_behind_the_line_is_new()
    {
        // Before, any record from before the line was taken for one applied and counted as a duplicate, unseen. An event's
        // record that no floor covers and that was never applied is new: the area judges it, as too late if it is.
        var ledger = new OriginLedger();
        ledger.Raise(new Dictionary<int, long> { [3] = 1000 });
        ledger.Forget(T0.AddMinutes(9), Horizon);

        Assert.True(ledger.FirstTime("e:3:1500:-1", T0.AddMinutes(2)));
        Assert.False(ledger.FirstTime("e:3:1500:-1", T0.AddMinutes(2)));
    }

    [Fact]
    public void The_ledger_travels_to_the_node_that_restores_it()
    {
        // The failure this guards (seen in the scale-out tests): the area's state moved to a node that restored it and did
        // not yet know the area's watermark; a reading written again by a sensor partition's new owner, whose origin the
        // old node had forgotten, was applied a second time and changed an energy aggregate.
        var ledger = new OriginLedger();
        Assert.True(ledger.FirstTime("e:3:1069:-1", T0.AddMinutes(6)));
        Assert.True(ledger.FirstTime(TimerFact(6), T0.AddMinutes(6)));
        ledger.Forget(T0.AddMinutes(9), Horizon);

        var restored = OriginLedger.FromJson(ledger.ToJson());

        Assert.False(restored.FirstTime("e:3:1069:-1", T0.AddMinutes(6)), "the event's origin, kept");
        Assert.False(restored.FirstTime(TimerFact(6), T0.AddMinutes(6)), "the timer's fact, before the line");
        Assert.True(restored.FirstTime("e:3:2000:-1", T0.AddMinutes(9)));
        Assert.True(restored.FirstTime(TimerFact(9), T0.AddMinutes(9)));
    }

    [Fact]
    public void The_line_only_moves_forward()
    {
        var ledger = new OriginLedger();
        ledger.Forget(T0.AddMinutes(9), Horizon);
        ledger.Forget(T0.AddMinutes(2), Horizon);

        Assert.False(ledger.FirstTime(TimerFact(5), T0.AddMinutes(5)));
    }

    [Fact]
    public void A_ledger_that_an_older_version_wrote_with_a_line_keeps_that_line_for_events()
    {
        // That version forgot events' origins at its line too: a record made again from before it may be one applied.
        var json = Encoding.UTF8.GetBytes("""{"Floors":{"3":100},"Seen":{},"ForgottenBefore":1796032800000}""");

        var ledger = OriginLedger.FromJson(json);

        Assert.False(ledger.FirstTime("e:3:150:-1", DateTimeOffset.FromUnixTimeMilliseconds(1796032799999)));
        Assert.True(ledger.FirstTime("e:3:151:-1", DateTimeOffset.FromUnixTimeMilliseconds(1796032800000)));
        var again = OriginLedger.FromJson(ledger.ToJson());
        Assert.False(again.FirstTime("e:3:152:-1", DateTimeOffset.FromUnixTimeMilliseconds(1796032799999)), "the old line travels on");
    }

    [Fact]
    public void A_ledger_written_by_an_older_version_reads_as_one_without_a_line()
    {
        var json = Encoding.UTF8.GetBytes("""{"Floors":{"3":100},"Seen":{"e:3:150:-1":1796032000000}}""");

        var ledger = OriginLedger.FromJson(json);

        Assert.False(ledger.FirstTime("e:3:99:-1", T0), "below the floor");
        Assert.False(ledger.FirstTime("e:3:150:-1", T0), "seen");
        Assert.True(ledger.FirstTime("e:3:151:-1", T0.AddYears(-1)), "no line: an old event time alone does not make it seen");
    }

    [Fact]
    public void The_ledger_writes_each_origin_as_it_was_given_in_the_order_it_was_noted()
    {
        // Events' origins are kept as their numbers, not their text: what the state record says must not change by that.
        string[] origins =
        [
            "e:3:1069:-1", TimerFact(6), "e:11:9223372036854775806:2147483647", "e:0:0:0",
            "e:03:7:0", "e:2:7:x", "e:2:7", "e:x:1:0", "e:4:-5:0", "e:4:5:+1", "e:4:5: 1", "x:anything",
        ];
        var ledger = new OriginLedger();
        foreach (var origin in origins)
        {
            Assert.True(ledger.FirstTime(origin, T0), origin);
        }

        var json = ledger.ToJson()!;
        using var document = JsonDocument.Parse(json);
        var seen = document.RootElement.GetProperty("Seen").EnumerateObject().Select(p => p.Name).ToArray();
        Assert.Equal(origins, seen);
        Assert.Equal(json, OriginLedger.FromJson(json).ToJson());
        foreach (var origin in origins)
        {
            Assert.False(OriginLedger.FromJson(json).FirstTime(origin, T0), origin);
        }
    }

    [Fact]
    public void An_events_origin_not_written_as_the_codec_writes_it_is_still_covered_by_its_floor()
    {
        var ledger = new OriginLedger();
        Assert.True(ledger.FirstTime("e:2:7:x", T0));
        Assert.True(ledger.FirstTime("e:02:8:0", T0));
        Assert.True(ledger.FirstTime("e:2:9:0", T0));
        Assert.True(ledger.FirstTime("e:2:7", T0), "no index: names no offset the floors know");

        ledger.Raise(new Dictionary<int, long> { [2] = 9 });

        Assert.Equal(2, ledger.Count);
        Assert.False(ledger.FirstTime("e:2:7:x", T0), "below the floor");
        Assert.False(ledger.FirstTime("e:02:8:0", T0), "below the floor");
        Assert.False(ledger.FirstTime("e:2:9:0", T0), "seen");
        Assert.True(ledger.FirstTime("e:2:9:1", T0));
    }

    private static string TimerFact(int minute) => $"t:traffic-0001:congested:{T0.AddMinutes(minute).ToUnixTimeMilliseconds()}:0";
}
