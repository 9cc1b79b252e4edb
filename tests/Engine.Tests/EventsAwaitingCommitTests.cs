namespace Kommune.Engine.Tests;

/// <summary>The bound of events awaiting their commit: its default and its check.</summary>
public sealed class EventsAwaitingCommitTests
{
    [Fact]
    public void By_default_160000_events_may_await_their_commit_or_four_times_the_in_flight_bound_if_that_is_more()
    {
        Assert.Equal(160_000, new EngineOptions().EffectiveMaxEventsAwaitingCommit);
        Assert.Equal(400_000, new EngineOptions { MaxInFlightEvents = 100_000 }.EffectiveMaxEventsAwaitingCommit);
        Assert.Equal(25_000, new EngineOptions { MaxEventsAwaitingCommit = 25_000 }.EffectiveMaxEventsAwaitingCommit);
    }

    [Fact]
    public void A_bound_below_the_in_flight_bound_is_refused_with_its_name()
    {
        var options = new EngineOptions { BootstrapServers = "127.0.0.1:9092", MaxInFlightEvents = 100, MaxEventsAwaitingCommit = 99 };
        var error = Assert.Throws<ArgumentException>(options.Validate);
        Assert.Contains("MaxEventsAwaitingCommit must be at least MaxInFlightEvents (100), not 99", error.Message, StringComparison.Ordinal);
    }
}
