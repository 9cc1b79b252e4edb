using Kommune.Connectors.Simulation;
using Kommune.Engine.Plugins;
using Kommune.Rules.BuiltIn;
using Kommune.Rules.Model;
using Kommune.Rules.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>
/// What the demo shows, on virtual time: the demo's simulated network with its scripted incidents, through the rules
/// of demo-rules.json (the demo's embedded default), raises an alert of every rule family where the incidents are,
/// and none of congestion, parking or energy anywhere else.
/// </summary>
public sealed class DemoScenarioTests
{
    [Fact]
    public void The_demo_rules_raise_every_family_on_the_scripted_incidents_within_five_minutes()
    {
        // The demo's network: 1,000 sensors in 20 areas at 200 events/s; 10:00 UTC, away from the rush hours.
        var start = new DateTimeOffset(2026, 11, 27, 10, 0, 0, TimeSpan.Zero);
        using var loader = new RuleLoader(Path.Combine(AppContext.BaseDirectory, "demo-rules.json"), null, NullLogger.Instance);
        var kit = new RuleTestKit(start: start);
        foreach (var binding in loader.Load().Rules.Bindings)
        {
            kit.Bind(binding.Rule, binding.Name, binding.SensorTypes, binding.Areas);
        }

        var simulator = new SensorSimulator(new SimulatorOptions { Incidents = true });
        var tick = TimeSpan.FromMilliseconds(5);
        for (var i = 0; i < 200 * 60 * 5; i++)
        {
            kit.AdvanceClock(tick);
            kit.Send(simulator.Next(kit.Now));
        }

        Assert.Empty(kit.Failures);
        var raised = kit.Alerts.Where(a => a.Status == AlertStatus.Raised).ToList();
        Assert.Contains(raised, a => a.Rule == FallEscalationRule.RuleName);
        Assert.Contains(kit.Alerts, a => a.Rule == FallEscalationRule.RuleName && a.Status == AlertStatus.Escalated && a.Level == 2);

        Assert.Contains(raised, a => a.Rule == CongestionRule.RuleName && a.AreaId == SimulatedIncidents.JamArea);
        Assert.Contains(raised, a => a.Rule == CongestionAreaRule.RuleName && a.AreaId == SimulatedIncidents.JamArea);
        Assert.Contains(raised, a => a.Rule == ParkingRule.RuleName && a.AreaId == SimulatedIncidents.FullParkingArea);
        Assert.Single(raised, a => a.Rule == EnergyAnomalyRule.RuleName && a.AreaId == SimulatedIncidents.EnergySpikeArea);

        Assert.DoesNotContain(raised, a => a.Rule is CongestionRule.RuleName or CongestionAreaRule.RuleName && a.AreaId != SimulatedIncidents.JamArea);
        Assert.DoesNotContain(raised, a => a.Rule == ParkingRule.RuleName && a.AreaId != SimulatedIncidents.FullParkingArea);
        Assert.DoesNotContain(raised, a => a.Rule == EnergyAnomalyRule.RuleName && a.AreaId != SimulatedIncidents.EnergySpikeArea);

        // Every area gets its minute aggregates of traffic and parking, and its energy per 15 minutes once one ends.
        Assert.Equal(20, kit.Aggregates.Where(a => a.Metric == ParkingRule.OccupancyMetric).Select(a => a.AreaId).Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(20, kit.Aggregates.Where(a => a.Metric == CongestionAreaRule.ShareMetric).Select(a => a.AreaId).Distinct(StringComparer.Ordinal).Count());
    }
}
