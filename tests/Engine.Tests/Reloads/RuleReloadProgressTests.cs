using Kommune.Engine.Reloads;
using Kommune.Engine.Tests.Plugins;
using Kommune.Rules.Runtime;

namespace Kommune.Engine.Tests.Reloads;

/// <summary>
/// Where a key's carried state is counted: in the reload whose rules it took, while that reload is still being passed
/// around (also when an event made the key catch up before the reload's message reached it), and logged as outside a
/// reload once that one has reported.
/// </summary>
public sealed class RuleReloadProgressTests
{
    private static readonly BindingStateChange KeptAtPark = new("noise-hour", "park", BindingChange.Kept, []);

    [Fact]
    public void A_key_that_catches_up_during_a_reload_counts_in_its_report_not_outside_it()
    {
        var log = new ListLogger();
        var reloads = new RuleReloads(log, null, TimeProvider.System);
        var progress = new RuleReloadProgress(2, [], reloads);

        reloads.Applied(progress, [KeptAtPark]); // caught up by an event before the reload's message came
        progress.Done();

        Assert.DoesNotContain(log.Entries, e => e.Message.Contains("outside a reload", StringComparison.Ordinal));
    }

    [Fact]
    public void A_key_that_catches_up_after_the_reload_reported_is_logged_as_outside_it()
    {
        var log = new ListLogger();
        var reloads = new RuleReloads(log, null, TimeProvider.System);
        var progress = new RuleReloadProgress(2, [], reloads);
        progress.Done();

        Assert.False(progress.TryAdd([KeptAtPark]));
        reloads.Applied(progress, [KeptAtPark]); // asleep through the reload, caught up later

        Assert.Contains(log.Entries, e => e.Message.Contains("The state of park was carried over to the current rules outside a reload", StringComparison.Ordinal));
    }
}
