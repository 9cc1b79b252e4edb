using System.Reflection;
using System.Runtime.CompilerServices;
using Kommune.Rules.Runtime;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>The engine's statistics snapshot: named counts, each set where the snapshot is made.</summary>
public sealed class EngineStatisticsTests
{
    private static readonly PropertyInfo[] Counts = typeof(EngineStatistics).GetProperties(BindingFlags.Public | BindingFlags.Instance);

    [Fact]
    public void Every_count_is_a_required_init_only_property_and_there_is_no_positional_constructor()
    {
        Assert.True(Counts.Length >= 25, $"{Counts.Length} properties");
        Assert.All(Counts, p =>
        {
            Assert.NotNull(p.GetCustomAttribute<RequiredMemberAttribute>());
            Assert.Contains(p.SetMethod!.ReturnParameter.GetRequiredCustomModifiers(), m => m == typeof(IsExternalInit));
        });
        Assert.DoesNotContain(typeof(EngineStatistics).GetConstructors(), c => c.GetParameters().Length > 0 && c.GetParameters()[0].ParameterType != typeof(EngineStatistics));
    }

    [Fact]
    public async Task An_engine_that_has_not_started_has_counted_nothing_and_has_no_watermark()
    {
        await using var engine = new KommuneEngine(new EngineOptions { BootstrapServers = "127.0.0.1:9" }, NullLoggerFactory.Instance, RuleSet.Empty);

        var statistics = engine.Statistics;

        Assert.Equal(DateTimeOffset.MinValue, statistics.Watermark);
        Assert.All(Counts.Where(p => p.PropertyType != typeof(DateTimeOffset)), p => Assert.Equal(0L, Convert.ToInt64(p.GetValue(statistics), System.Globalization.CultureInfo.InvariantCulture)));
    }
}
