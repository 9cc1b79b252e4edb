using Kommune.Engine.Observability;
using Kommune.Rules.Runtime;
using Microsoft.Extensions.Logging;

namespace Kommune.Engine.Reloads;

/// <summary>
/// What the engine knows about its reloads of the rules: it plans each one (logged and counted per binding before the
/// actors apply it), gathers what every sensor and area did with its state, logs that once all have applied it, and
/// remembers the alerts reloads closed so operators' commands for them are answered. One per engine, outliving its
/// pipeline restarts. Safe from any thread.
/// </summary>
internal sealed partial class RuleReloads(ILogger logger, EngineMetrics? metrics, TimeProvider clock)
{
    private long _reloads;

    /// <summary>The alerts reloads closed, for command refusals.</summary>
    public ClosedByReload Closed { get; } = new();

    /// <summary>
    /// A reload from <paramref name="running"/> to <paramref name="next"/> is about to be applied: logs its plan, counts
    /// it, and returns its progress, to travel with the actors' <c>RulesChanged</c>.
    /// </summary>
    public RuleReloadProgress Begin(RuleSet running, RuleSet next)
    {
        var number = Interlocked.Increment(ref _reloads);
        var plan = RuleReload.Plan(running, next);
        metrics?.RulesReloaded(applied: true);
        foreach (var binding in plan)
        {
            metrics?.BindingReloaded(binding.Change);
        }

        var unchanged = plan.Count(p => p.Change == BindingChange.Unchanged);
        LogPlanned(logger, number, next.Bindings.Count, unchanged, plan.Count - unchanged);
        foreach (var binding in plan.Where(p => p.Change != BindingChange.Unchanged))
        {
            var change = Describe(binding.Change);
            LogBindingPlanned(logger, number, binding.Binding, change, binding.Reason);
        }

        return new RuleReloadProgress(number, plan, this);
    }

    /// <summary>A reload was refused (the rules file has mistakes): counted.</summary>
    public void Refused() => metrics?.RulesReloaded(applied: false);

    /// <summary>
    /// One sensor or area carried its state over a reload (<paramref name="progress"/>), or outside one (null: it restored
    /// state written under other rules; or a reload that has finished already: it caught up with one it missed): the
    /// alerts it closed are remembered and counted, and changes outside a reload are logged.
    /// </summary>
    public void Applied(RuleReloadProgress? progress, IReadOnlyList<BindingStateChange> changes)
    {
        if (changes.Count == 0)
        {
            return;
        }

        var counted = progress?.TryAdd(changes) == true;
        var now = clock.GetUtcNow();
        foreach (var change in changes)
        {
            foreach (var alert in change.ClosedAlerts)
            {
                var reason = change.Change == BindingChange.Removed ? "rule removed" : "rule state reset";
                Closed.Add(alert.AlertId, reason, now);
                metrics?.AlertClosedByReload(reason);
            }

            if (!counted)
            {
                var described = Describe(change.Change);
                LogCarriedOutsideReload(logger, change.Key, change.Binding, described, change.ClosedAlerts.Count);
            }
        }
    }

    /// <summary>How the log says a change.</summary>
    internal static string Describe(BindingChange change) => change switch
    {
        BindingChange.Unchanged => "unchanged",
        BindingChange.Added => "added",
        BindingChange.Kept => "kept",
        BindingChange.NewParameters => "kept with new parameters",
        BindingChange.Migrated => "migrated",
        BindingChange.Reset => "reset",
        _ => "removed",
    };

    /// <summary>Every actor has applied reload <paramref name="number"/>: what each binding's keys did.</summary>
    internal void Completed(long number, IReadOnlyList<BindingChangePlan> plan, IReadOnlyDictionary<string, RuleReloadProgress.Tally> tallies)
    {
        var closed = 0;
        foreach (var binding in plan.Where(p => p.Change is not (BindingChange.Unchanged or BindingChange.Added)))
        {
            var tally = tallies.GetValueOrDefault(binding.Binding) ?? new RuleReloadProgress.Tally();
            closed += tally.AlertsClosed;
            var change = Describe(binding.Change);
            LogBindingApplied(logger, number, binding.Binding, change, tally.Kept, tally.Migrated, tally.Reset, tally.Removed, tally.AlertsClosed);
        }

        LogApplied(logger, number, closed);
    }

    [LoggerMessage(EventId = 3020, Level = LogLevel.Information, Message = "Rule reload #{Reload}: {Bindings} bindings, {Unchanged} unchanged, {Changed} changed, added or removed")]
    private static partial void LogPlanned(ILogger logger, long reload, int bindings, int unchanged, int changed);

    [LoggerMessage(EventId = 3021, Level = LogLevel.Information, Message = "Rule reload #{Reload}: binding '{Binding}' {Change}: {Reason}")]
    private static partial void LogBindingPlanned(ILogger logger, long reload, string binding, string change, string reason);

    [LoggerMessage(EventId = 3022, Level = LogLevel.Information,
        Message = "Rule reload #{Reload} applied: binding '{Binding}' {Change}: state of {Kept} keys kept, {Migrated} migrated, {Reset} reset, {Removed} removed; {AlertsClosed} open alerts closed")]
    private static partial void LogBindingApplied(ILogger logger, long reload, string binding, string change, int kept, int migrated, int reset, int removed, int alertsClosed);

    [LoggerMessage(EventId = 3023, Level = LogLevel.Information, Message = "Rule reload #{Reload} applied by every sensor and area: {AlertsClosed} open alerts closed")]
    private static partial void LogApplied(ILogger logger, long reload, int alertsClosed);

    [LoggerMessage(EventId = 3024, Level = LogLevel.Information,
        Message = "The state of {Key} was carried over to the current rules outside a reload (restored from the state topic, or a reload caught up with late): binding '{Binding}' {Change}; {AlertsClosed} open alerts closed")]
    private static partial void LogCarriedOutsideReload(ILogger logger, string key, string binding, string change, int alertsClosed);
}
