using System.Text;
using System.Text.Json.Nodes;
using Confluent.Kafka;
using Kommune.Connectors.Kafka;

namespace Kommune.Connectors.Tests;

/// <summary>A large state is written as what changed since its base, and read back whole from the base and the newest delta.</summary>
public sealed class StateDeltaTests
{
    private static readonly Dictionary<int, long> Covers = new() { [0] = 12 };

    [Fact]
    public void A_delta_holds_only_the_changed_properties_of_a_cell_and_applied_to_its_base_gives_the_state()
    {
        var before = State(count: 1, table: Table(1), note: "første");
        var after = State(count: 2, table: Table(1), note: "første");
        var baseState = StateDelta.Capture(before, slot: 0, id: "b1");

        var delta = StateDelta.Diff(after, baseState, int.MaxValue)!;

        var cell = JsonNode.Parse(delta)!["rules"]![0]!;
        Assert.Equal("[\"detector\"]", cell["partial"]!.ToJsonString());
        Assert.Equal("{\"count\":2}", cell["values"]!["detector"]!.ToJsonString());
        Assert.Equal(cell["openAlerts"]!.ToJsonString(), JsonNode.Parse(after)!["rules"]![0]!["openAlerts"]!.ToJsonString());
        Assert.True(delta.Length < after.Length / 4, $"{delta.Length} bytes of delta for {after.Length} of state");
        AssertSameJson(after, StateDelta.Apply(before, delta));
    }

    [Fact]
    public void Added_properties_new_rules_and_cells_that_are_not_objects_are_carried_and_a_removed_property_writes_its_cell_whole()
    {
        var before = State(count: 1, table: Table(1), note: "a");
        var baseState = StateDelta.Capture(before, 0, "b1");
        var node = JsonNode.Parse(before)!;
        node["rules"]![0]!["values"]!["detector"]!["added"] = "ny \"verdi\"";
        node["rules"]![0]!["values"]!["counter"] = 7;
        node["rules"]!.AsArray().Add(JsonNode.Parse("{\"name\":\"other\",\"values\":{\"x\":{\"y\":1}},\"openAlerts\":{},\"timers\":[]}"));
        var added = Bytes(node);

        AssertSameJson(added, StateDelta.Apply(before, StateDelta.Diff(added, baseState, int.MaxValue)!));

        node = JsonNode.Parse(before)!;
        node["rules"]![0]!["values"]!["detector"]!.AsObject().Remove("note");
        var removed = Bytes(node);
        var delta = StateDelta.Diff(removed, baseState, int.MaxValue)!;
        Assert.Null(JsonNode.Parse(delta)!["rules"]![0]!["partial"]);
        AssertSameJson(removed, StateDelta.Apply(before, delta));
    }

    [Fact]
    public void A_delta_longer_than_asked_is_not_written_and_one_without_its_base_cell_is_unreadable()
    {
        var before = State(count: 1, table: Table(1), note: "a");
        var after = State(count: 2, table: Table(2), note: "a");
        var baseState = StateDelta.Capture(before, 0, "b1");

        Assert.Null(StateDelta.Diff(after, baseState, after.Length / 2));

        var delta = StateDelta.Diff(State(count: 3, table: Table(1), note: "a"), baseState, int.MaxValue)!;
        var otherBase = "{\"rules\":[{\"name\":\"energy\",\"values\":{}}]}"u8.ToArray();
        var error = Assert.Throws<InvalidDataException>(() => StateDelta.Apply(otherBase, delta));
        Assert.Contains("detector", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_reader_puts_a_delta_on_the_base_it_names_and_says_which_slot_that_was()
    {
        var first = State(count: 1, table: Table(1), note: "a");
        var base0 = StateDelta.Capture(first, 0, "b0");
        var second = State(count: 2, table: Table(2), note: "a");
        var base1 = StateDelta.Capture(second, 1, "b1");
        var third = State(count: 3, table: Table(2), note: "a");

        var messages = new List<Message<byte[]?, byte[]?>>();
        messages.AddRange(StateRecordFormat.Encode(new StateRecord("sensor:m", StateDelta.Diff(first, base0, int.MaxValue), 0, Covers) { DeltaOf = base0, Base = first }, 0, out _));
        Assert.Equal(2, messages.Count);
        Assert.Equal("sensor:m\u001fb0", Encoding.UTF8.GetString(messages[0].Key!)); // the base comes first
        messages.AddRange(StateRecordFormat.Encode(new StateRecord("sensor:m", StateDelta.Diff(second, base1, int.MaxValue), 0, Covers) { DeltaOf = base1, Base = second }, 0, out _));
        var beforeLast = messages.Count;
        messages.AddRange(StateRecordFormat.Encode(new StateRecord("sensor:m", StateDelta.Diff(third, base1, int.MaxValue), 0, Covers) { DeltaOf = base1 }, 0, out _));
        Assert.Equal(beforeLast + 1, messages.Count); // a delta of a base written before is one record

        var restored = Assert.Single(ReadBack(messages));
        AssertSameJson(third, restored.Value);
        Assert.Equal(1, restored.BaseSlot);
        Assert.Equal(Covers, restored.Covers);
    }

    [Fact]
    public void A_delta_whose_base_is_missing_is_reported_unreadable_and_a_whole_state_after_it_deletes_the_bases()
    {
        var state = State(count: 1, table: Table(1), note: "a");
        var baseState = StateDelta.Capture(state, 0, "b0");
        var delta = StateRecordFormat.Encode(new StateRecord("sensor:m", StateDelta.Diff(state, baseState, int.MaxValue), 0, Covers) { DeltaOf = baseState }, 0, out _);

        var reader = new StateRecordReader();
        foreach (var m in delta)
        {
            reader.Add(m.Key, m.Value, m.Headers, 0);
        }

        var reasons = new List<string>();
        Assert.Empty(reader.States((key, _, reason) => reasons.Add($"{key}: {reason}")));
        Assert.Contains("sensor:m: its record is a delta of base 0:b0, which is not on the state topic", reasons);

        var whole = StateRecordFormat.Encode(new StateRecord("sensor:m", "{\"rules\":[]}"u8.ToArray(), 0, Covers) { DropBases = true }, 0, out _);
        Assert.Equal(["sensor:m\u001fb0", "sensor:m\u001fb1", "sensor:m"], whole.Select(m => Encoding.UTF8.GetString(m.Key!)));
        Assert.All(whole.Take(2), m => Assert.Null(m.Value));
        Assert.Equal("{\"rules\":[]}", Encoding.UTF8.GetString(Assert.Single(ReadBack(whole)).Value));
    }

    private static void AssertSameJson(byte[] expected, byte[] actual) =>
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), JsonNode.Parse(actual)), $"expected {Encoding.UTF8.GetString(expected)}\nactual {Encoding.UTF8.GetString(actual)}");

    private static List<RestoredState> ReadBack(IEnumerable<Message<byte[]?, byte[]?>> messages)
    {
        var reader = new StateRecordReader();
        foreach (var m in messages)
        {
            reader.Add(m.Key, m.Value, m.Headers, 0);
        }

        return [.. reader.States((key, _, reason) => Assert.Fail($"{key}: {reason}"))];
    }

    private static string Table(int seed)
    {
        var random = new Random(seed);
        return Convert.ToBase64String([.. Enumerable.Range(0, 300).SelectMany(_ => BitConverter.GetBytes(random.NextDouble()))]);
    }

    /// <summary>A snapshot as the engine writes it: one rule whose one cell is an energy detector-like object.</summary>
    private static byte[] State(long count, string table, string note) => Encoding.UTF8.GetBytes(
        $$$"""
        {"scope":"Sensor","key":"m","areaId":"sagene","watermark":"0001-01-01T00:00:00+00:00","lastEventTime":"2026-12-04T10:00:00+00:00",
         "rules":[{"name":"energy","fingerprint":"f1","values":{"detector":{"count":{{{count}}},"table":"{{{table}}}","note":"{{{note}}}","episode":{"open":false,"peak":1.5},"passes":[1,2,3]}},
                   "openAlerts":{"e-1":{"alertId":"a-1"}},"timers":[{"name":"t","time":"2026-12-04T11:00:00+00:00","domain":"EventTime"}],"rule":"energy-anomaly","stateVersion":2}]}
        """);

    private static byte[] Bytes(JsonNode? node) => Encoding.UTF8.GetBytes(node!.ToJsonString());
}
