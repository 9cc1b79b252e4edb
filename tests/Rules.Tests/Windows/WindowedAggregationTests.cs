using Kommune.Rules.Api;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;
using Kommune.Rules.Testing;
using Kommune.Rules.Windows;

namespace Kommune.Rules.Tests.Windows;

public sealed class WindowedAggregationTests
{
    // Midnight UTC: a multiple of every window size used here since the Unix epoch.
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static readonly EventTimeSettings Settings = new()
    {
        OutOfOrderness = TimeSpan.Zero,
        AllowedLateness = TimeSpan.FromMinutes(1),
    };

    private static SensorEvent Event(double seconds, double value, string sensorId = "s1") =>
        new(sensorId, "area-1", "traffic", T0.AddSeconds(seconds), new Dictionary<string, SensorValue> { ["value"] = value });

    private static (RuleTestKit Kit, WindowTestRule Rule) Kit(EventTimeSettings? settings, params WindowSpec[] specs)
    {
        var rule = new WindowTestRule(specs);
        return (new RuleTestKit(settings ?? Settings).Bind(rule, "windows"), rule);
    }

    [Fact]
    public void Tumbling_windows_are_aligned_to_the_epoch_and_emitted_when_the_watermark_passes_their_end()
    {
        var (kit, rule) = Kit(null, WindowSpec.Tumbling(TimeSpan.FromMinutes(5)));

        kit.Send(Event(10, 1));
        kit.Send(Event(60, 2));
        kit.Send(Event(299.999, 3));
        Assert.Empty(rule.Results);

        kit.Send(Event(300, 4));

        var first = Assert.Single(rule.Results);
        Assert.Equal(T0, first.Start);
        Assert.Equal(T0.AddMinutes(5), first.End);
        Assert.Equal(3, first.Count);
        Assert.Equal(6, first.Sum);
        Assert.False(first.IsUpdate);
        var aggregate = Assert.Single(kit.Aggregates);
        Assert.Equal(new Aggregate("area-1", "w0.mean", T0, T0.AddMinutes(5), 2, 3) { SensorId = "s1" }, aggregate);

        kit.AdvanceWatermarkTo(T0.AddMinutes(10));
        Assert.Equal(2, rule.Results.Count);
        Assert.Equal(T0.AddMinutes(5), rule.Results[1].Start);
        Assert.Equal(1, rule.Results[1].Count);
        Assert.Empty(rule.OtherTimers);
        Assert.Empty(kit.Failures);
    }

    [Fact]
    public void Tumbling_windows_before_the_epoch_are_aligned_too()
    {
        var rule = new WindowTestRule(WindowSpec.Tumbling(TimeSpan.FromMinutes(1)));
        var kit = new RuleTestKit(Settings).Bind(rule);
        var before = DateTimeOffset.UnixEpoch.AddSeconds(-90);

        kit.Send("s1", "traffic", before, new Dictionary<string, SensorValue> { ["value"] = 1 });
        kit.AdvanceWatermarkTo(DateTimeOffset.UnixEpoch);

        var result = Assert.Single(rule.Results);
        Assert.Equal(DateTimeOffset.UnixEpoch.AddMinutes(-2), result.Start);
        Assert.Equal(DateTimeOffset.UnixEpoch.AddMinutes(-1), result.End);
    }

    [Fact]
    public void Hopping_windows_hold_each_event_in_size_over_step_windows()
    {
        var (kit, rule) = Kit(null, WindowSpec.Hopping(TimeSpan.FromMinutes(15), TimeSpan.FromMinutes(5)));

        kit.Send(Event(7 * 60, 1));
        kit.Send(Event(12 * 60, 2));
        kit.AdvanceWatermarkTo(T0.AddHours(1));

        var windows = rule.Results.Select(r => (Start: (r.Start - T0).TotalMinutes, End: (r.End - T0).TotalMinutes, r.Count, r.Sum)).ToList();
        Assert.Equal(
            [(-5.0, 10.0, 1L, 1.0), (0.0, 15.0, 2L, 3.0), (5.0, 20.0, 2L, 3.0), (10.0, 25.0, 1L, 2.0)],
            windows);
    }

    [Fact]
    public void Sessions_that_overlap_merge_and_sessions_a_gap_apart_do_not()
    {
        var settings = Settings with { OutOfOrderness = TimeSpan.FromMinutes(2) };
        var (kit, rule) = Kit(settings, WindowSpec.Session(TimeSpan.FromMinutes(1)));

        kit.Send(Event(0, 1));
        kit.Send(Event(100, 2));
        kit.Send(Event(50, 4));   // [50, 110) overlaps [0, 60) and [100, 160): one session [0, 160)
        kit.Send(Event(220, 8));  // exactly a gap after 160: a session of its own
        kit.AdvanceWatermarkTo(T0.AddHours(1));

        Assert.Equal(2, rule.Results.Count);
        var merged = rule.Results[0];
        Assert.Equal((T0, T0.AddSeconds(160), 3L, 7.0), (merged.Start, merged.End, merged.Count, merged.Sum));
        Assert.Empty(merged.Replaced);
        var next = rule.Results[1];
        Assert.Equal((T0.AddSeconds(220), T0.AddSeconds(280), 1L), (next.Start, next.End, next.Count));
        Assert.Empty(rule.OtherTimers);
        var state = kit.SensorState("s1")!;
        Assert.Empty(state.Rules);
    }

    [Fact]
    public void Every_statistic_is_reported()
    {
        var (kit, rule) = Kit(null, WindowSpec.Tumbling(TimeSpan.FromMinutes(1)));
        double[] values = [1.25, -3.5, 0, 8, 2.75, -0.25];
        for (var i = 0; i < values.Length; i++)
        {
            kit.Send(Event(i, values[i]));
        }

        kit.AdvanceWatermarkTo(T0.AddMinutes(1));

        var result = Assert.Single(rule.Results);
        Assert.Equal(6, result.Count);
        Assert.Equal(8.25, result.Sum);
        Assert.Equal(-3.5, result.Min);
        Assert.Equal(8, result.Max);
        Assert.Equal(8.25 / 6, result.Mean);
        Assert.Equal(-3.5, result.Percentile(0));
        Assert.Equal(8, result.Percentile(1));
        // Sorted: -3.5, -0.25, 0, 1.25, 2.75, 8; rank floor(q * 5).
        Assert.Equal(-0.25, result.Percentile(0.2), 0.0025);
        Assert.Equal(0, result.Percentile(0.4));
        Assert.Equal(1.25, result.Percentile(0.6), 0.0125);
        Assert.Equal(2.75, result.Percentile(0.8), 0.0275);
        Assert.Throws<ArgumentOutOfRangeException>(() => result.Percentile(1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => result.Percentile(double.NaN));
    }

    [Fact]
    public void EmitAggregate_emits_the_chosen_statistic_with_the_window_and_count()
    {
        var aggregation = new WindowedAggregation("p95", WindowSpec.Tumbling(TimeSpan.FromMinutes(1)),
            (context, result) => result.EmitAggregate(context, "flow.p95", r => r.Percentile(0.95)));
        var kit = new RuleTestKit(Settings).Bind(new DelegateRule(aggregation));
        for (var i = 1; i <= 100; i++)
        {
            kit.Send(Event(i * 0.5, i));
        }

        kit.AdvanceWatermarkTo(T0.AddMinutes(1));

        var aggregate = Assert.Single(kit.Aggregates);
        Assert.Equal(("flow.p95", T0, T0.AddMinutes(1), 100L), (aggregate.Metric, aggregate.WindowStart, aggregate.WindowEnd, aggregate.Count));
        Assert.Equal(95, aggregate.Value, 0.95);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Percentiles_are_within_one_percent_of_the_exact_value(int seed)
    {
        var random = new Random(seed);
        var values = new List<double>();
        values.AddRange(Enumerable.Range(1, 2000).Select(i => (double)i));
        values.AddRange(Enumerable.Range(0, 2000).Select(_ => Math.Exp(random.NextDouble() * 20 - 10)));
        values.AddRange(Enumerable.Range(0, 500).Select(_ => -Math.Exp(random.NextDouble() * 10)));
        values.AddRange(Enumerable.Repeat(0.0, 100));
        values.AddRange([1e-300, 1e300, double.MaxValue / 2, -double.MaxValue / 2]);
        var shuffled = values.OrderBy(_ => random.Next()).ToList();
        var sorted = values.Order().ToList();

        var sketch = new QuantileSketch();
        foreach (var value in shuffled)
        {
            sketch.Add(value);
        }

        for (var q = 0.0; q <= 1.0; q += 0.005)
        {
            var exact = sorted[(int)Math.Floor(q * (sorted.Count - 1))];
            var estimate = sketch.Quantile(q, sorted.Count);
            Assert.True(
                Math.Abs(estimate - exact) <= (QuantileSketch.RelativeAccuracy + 1e-12) * Math.Abs(exact),
                $"q={q}: estimate {estimate}, exact {exact}");
        }
    }

    [Fact]
    public void Quantile_sketch_is_the_same_whatever_the_order_and_merges_like_one_sketch()
    {
        var random = new Random(7);
        var values = Enumerable.Range(0, 1000).Select(_ => random.NextDouble() * 200 - 100).ToList();
        QuantileSketch Of(IEnumerable<double> source)
        {
            var sketch = new QuantileSketch();
            foreach (var value in source)
            {
                sketch.Add(value);
            }

            return sketch;
        }

        var inOrder = Of(values);
        var reversed = Of(Enumerable.Reverse(values));
        var merged = Of(values.Take(400));
        merged.Merge(Of(values.Skip(400)));

        foreach (var sketch in new[] { reversed, merged })
        {
            Assert.Equal(inOrder.Positive, sketch.Positive);
            Assert.Equal(inOrder.Negative, sketch.Negative);
            Assert.Equal(inOrder.Zero, sketch.Zero);
        }
    }

    [Fact]
    public void A_late_but_allowed_event_emits_an_update_of_an_emitted_window()
    {
        var (kit, rule) = Kit(null, WindowSpec.Tumbling(TimeSpan.FromMinutes(1)));

        kit.Send(Event(30, 1));
        kit.Send(Event(70, 2));
        Assert.Equal([(T0, 1L, false)], rule.Results.Select(r => (r.Start, r.Count, r.IsUpdate)));

        Assert.True(kit.Send(Event(40, 4))); // watermark 70 s, lateness 60 s: allowed

        Assert.Equal([(T0, 1L, false), (T0, 2L, true)], rule.Results.Select(r => (r.Start, r.Count, r.IsUpdate)));
        Assert.Equal(5, rule.Results[1].Sum);
        Assert.Equal([1.0, 2.5], kit.Aggregates.Select(a => a.Value));
        Assert.All(kit.Aggregates, a => Assert.Equal(T0, a.WindowStart));
    }

    [Fact]
    public void A_late_but_allowed_event_of_a_window_never_seen_emits_it_at_once_as_a_first_result()
    {
        var (kit, rule) = Kit(null, WindowSpec.Tumbling(TimeSpan.FromSeconds(10)));

        kit.Send(Event(65, 1));
        kit.Send(Event(12, 2)); // watermark 65 s: window [10 s, 20 s) ended, but 12 s >= 65 s - 60 s

        var result = Assert.Single(rule.Results);
        Assert.Equal((T0.AddSeconds(10), 1L, false), (result.Start, result.Count, result.IsUpdate));

        kit.AdvanceWatermarkTo(T0.AddMinutes(5));
        Assert.Equal([T0.AddSeconds(10), T0.AddSeconds(60)], rule.Results.Select(r => r.Start));
        Assert.Empty(rule.OtherTimers);
    }

    [Fact]
    public void A_late_event_that_bridges_emitted_sessions_emits_the_merged_session_as_an_update_replacing_them()
    {
        var (kit, rule) = Kit(null, WindowSpec.Session(TimeSpan.FromSeconds(10)));

        kit.Send(Event(0, 1));
        kit.Send(Event(15, 2));
        kit.Send(Event(40, 4)); // watermark 40 s: sessions [0, 10) and [15, 25) emitted
        Assert.Equal([T0, T0.AddSeconds(15)], rule.Results.Select(r => r.Start));

        kit.Send(Event(8, 8)); // [8, 18) bridges both

        var update = rule.Results[^1];
        Assert.True(update.IsUpdate);
        Assert.Equal((T0, T0.AddSeconds(25), 3L, 11.0), (update.Start, update.End, update.Count, update.Sum));
        Assert.Equal([T0.AddSeconds(15)], update.Replaced);
    }

    [Fact]
    public void Window_state_and_timers_are_purged_once_the_watermark_passes_end_plus_allowed_lateness()
    {
        var (kit, rule) = Kit(null, WindowSpec.Tumbling(TimeSpan.FromMinutes(1)));

        kit.Send(Event(30, 1));
        kit.AdvanceWatermarkTo(T0.AddMinutes(1));
        var state = Assert.Single(kit.SensorState("s1")!.Rules);
        Assert.Contains("w0:windows", state.Values.Keys);
        Assert.Equal([new RuleTimer("w0:purge:" + T0.ToUnixTimeMilliseconds(), T0.AddMinutes(2), TimeDomain.EventTime)], state.Timers);

        kit.AdvanceWatermarkTo(T0.AddMinutes(2).AddTicks(-1));
        Assert.Single(kit.SensorState("s1")!.Rules);

        kit.AdvanceWatermarkTo(T0.AddMinutes(2));
        Assert.Empty(kit.SensorState("s1")!.Rules);

        Assert.False(kit.Send(Event(59, 5)));
        Assert.Single(kit.LateEvents);
        Assert.Single(rule.Results);
    }

    [Fact]
    public void With_no_allowed_lateness_a_window_is_emitted_once_and_purged_at_its_end()
    {
        var (kit, rule) = Kit(Settings with { AllowedLateness = TimeSpan.Zero }, WindowSpec.Tumbling(TimeSpan.FromMinutes(1)), WindowSpec.Session(TimeSpan.FromSeconds(10)));

        kit.Send(Event(5, 1));
        kit.Send(Event(8, 2));
        kit.AdvanceWatermarkTo(T0.AddMinutes(1));

        // The session [5 s, 18 s) ends first.
        Assert.Equal([("w1", T0.AddSeconds(5), 2L), ("w0", T0, 2L)], rule.Results.Select(r => (r.Aggregation, r.Start, r.Count)));
        Assert.Empty(kit.SensorState("s1")!.Rules);
        Assert.False(kit.Send(Event(59, 1)));
    }

    [Fact]
    public void An_event_for_a_window_already_past_its_lateness_is_ignored()
    {
        // The engine filters such events out; here the runner is driven directly with a watermark far ahead.
        var rule = new WindowTestRule(WindowSpec.Tumbling(TimeSpan.FromMinutes(1)), WindowSpec.Session(TimeSpan.FromMinutes(1)));
        var runner = new KeyedRuleRunner(RuleScope.Sensor, "s1", "area-1", new RuleSet([new RuleBinding("windows", rule)]), Settings);
        var outputs = new CollectingOutputs();

        runner.OnEvent(Event(0, 1), T0.AddMinutes(2), T0, outputs);

        Assert.Empty(rule.Results);
        Assert.False(runner.HasState);
        Assert.Empty(outputs.Failures);
    }

    [Fact]
    public void Several_aggregations_coexist_in_one_rule()
    {
        var (kit, rule) = Kit(null, WindowSpec.Tumbling(TimeSpan.FromMinutes(1)), WindowSpec.Session(TimeSpan.FromSeconds(30)), WindowSpec.Tumbling(TimeSpan.FromMinutes(2)));

        kit.Send(Event(0, 1));
        kit.Send(Event(20, 2));
        kit.Send(Event(100, 3));
        kit.AdvanceWatermarkTo(T0.AddHours(1));

        Assert.Equal(
            ["w0 0 2", "w0 60 1", "w1 0 2", "w1 100 1", "w2 0 3"],
            rule.Results.Select(r => $"{r.Aggregation} {(r.Start - T0).TotalSeconds} {r.Count}").Order(StringComparer.Ordinal));
        Assert.Empty(kit.SensorState("s1")!.Rules);
    }

    [Fact]
    public void A_snapshot_restored_into_a_new_runner_gives_the_same_results()
    {
        WindowSpec[] specs = [WindowSpec.Tumbling(TimeSpan.FromMinutes(1)), WindowSpec.Hopping(TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(1)), WindowSpec.Session(TimeSpan.FromSeconds(20))];
        var settings = Settings with { OutOfOrderness = TimeSpan.FromSeconds(30) };
        var before = Enumerable.Range(0, 60).Select(i => Event(i * 7 % 150, i / 4.0)).ToList();
        var after = Enumerable.Range(0, 40).Select(i => Event(130 + (i * 11 % 100), -i / 4.0)).ToList();

        // Straight through.
        var whole = new WindowTestRule(specs);
        var straight = new KeyedRuleRunner(RuleScope.Sensor, "s1", "area-1", new RuleSet([new RuleBinding("windows", whole)]), settings);
        var tracker = new WatermarkTracker(settings);
        var outputs = new CollectingOutputs();
        foreach (var e in before.Concat(after))
        {
            Feed(straight, tracker, e, outputs);
        }

        straight.Advance(T0.AddHours(1), T0, outputs);

        // Stopped after the first part, snapshot through JSON, restored into a new runner with a new rule object.
        var first = new WindowTestRule(specs);
        var stopped = new KeyedRuleRunner(RuleScope.Sensor, "s1", "area-1", new RuleSet([new RuleBinding("windows", first)]), settings);
        var tracker2 = new WatermarkTracker(settings);
        var outputs2 = new CollectingOutputs();
        foreach (var e in before)
        {
            Feed(stopped, tracker2, e, outputs2);
        }

        var json = stopped.Snapshot().ToJson();
        var second = new WindowTestRule(specs);
        var restored = new KeyedRuleRunner(RuleScope.Sensor, "s1", "area-1", new RuleSet([new RuleBinding("windows", second)]), settings);
        Assert.Empty(restored.Restore(KeyedStateSnapshot.FromJson(json)));
        foreach (var e in after)
        {
            Feed(restored, tracker2, e, outputs2);
        }

        restored.Advance(T0.AddHours(1), T0, outputs2);

        Assert.NotEmpty(first.Results);
        Assert.NotEmpty(second.Results);
        Assert.Equal(whole.Results.Select(WindowSummary.Of), first.Results.Concat(second.Results).Select(WindowSummary.Of));
        Assert.Equal(outputs.Aggregates, outputs2.Aggregates);
        Assert.Empty(outputs.Failures);
        Assert.Empty(outputs2.Failures);
        Assert.False(restored.HasState);
    }

    [Fact]
    public void Window_specs_refuse_bad_durations()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => WindowSpec.Tumbling(TimeSpan.Zero));
        Assert.Throws<ArgumentOutOfRangeException>(() => WindowSpec.Tumbling(TimeSpan.FromTicks(15_000)));
        Assert.Throws<ArgumentOutOfRangeException>(() => WindowSpec.Hopping(TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(3)));
        Assert.Throws<ArgumentOutOfRangeException>(() => WindowSpec.Session(TimeSpan.FromSeconds(-1)));
        Assert.Throws<ArgumentException>(() => new WindowedAggregation("a:b", WindowSpec.Session(TimeSpan.FromSeconds(1)), (_, _) => { }));
    }

    private static void Feed(KeyedRuleRunner runner, WatermarkTracker tracker, SensorEvent e, IRuleOutputs outputs)
    {
        var watermark = tracker.Watermark;
        if (tracker.IsLate(e.Timestamp))
        {
            return; // the engine's late output
        }

        tracker.Observe(0, e.Timestamp, T0);
        runner.OnEvent(e, watermark, T0, outputs);
        runner.Advance(tracker.Watermark, T0, outputs);
    }

    private sealed class DelegateRule(WindowedAggregation aggregation) : Rule
    {
        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
        {
            if (sensorEvent.TryGetNumber("value", out var value))
            {
                aggregation.Add(context, sensorEvent.Timestamp, value);
            }
        }

        public override void OnTimer(IRuleContext context, RuleTimer timer) => Assert.True(aggregation.OnTimer(context, timer));
    }
}

/// <summary>Collects what a <see cref="KeyedRuleRunner"/> emits.</summary>
public sealed class CollectingOutputs : IRuleOutputs
{
    public List<Alert> Alerts { get; } = [];

    public List<Aggregate> Aggregates { get; } = [];

    public List<Fact> Facts { get; } = [];

    public List<(string Rule, string Handler, Exception Exception)> Failures { get; } = [];

    public void Alert(Alert alert) => Alerts.Add(alert);

    public void Aggregate(Aggregate aggregate) => Aggregates.Add(aggregate);

    public void Fact(Fact fact) => Facts.Add(fact);

    public List<(string Rule, string Key, string Kind, string Message)> Problems { get; } = [];

    public void RuleFailed(string ruleName, string handler, Exception exception) => Failures.Add((ruleName, handler, exception));

    public void Problem(string ruleName, string key, string kind, string message) => Problems.Add((ruleName, key, kind, message));
}
