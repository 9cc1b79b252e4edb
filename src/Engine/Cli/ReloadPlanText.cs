using Kommune.Engine.Plugins;
using Kommune.Engine.Reloads;
using Kommune.Rules.Runtime;
using Microsoft.Extensions.Logging;

namespace Kommune.Engine.Cli;

/// <summary>
/// <c>kommune check-rules --against RUNNING</c>: what reloading from the running rules file (and plugins) to the checked
/// one would do to each binding's state, one line each, before anyone applies it.
/// </summary>
internal static class ReloadPlanText
{
    /// <summary>Loads the running rules and writes the plan from them to <paramref name="next"/>.</summary>
    /// <returns>null when written; 2 when the running rules file has mistakes (written to <paramref name="error"/>).</returns>
    public static int? Write(TextWriter output, TextWriter error, string runningFile, string? runningPlugins, RuleSet next, ILoggerFactory loggerFactory)
    {
        using var loader = new RuleLoader(Path.GetFullPath(runningFile), runningPlugins is null ? null : Path.GetFullPath(runningPlugins), loggerFactory.CreateLogger<RuleLoader>());
        RuleSet running;
        try
        {
            running = loader.Load().Rules;
        }
        catch (RulesFileException e)
        {
            error.WriteLine($"the running rules ({runningFile}) cannot be read, so there is no plan: {e.Message}");
            return 2;
        }

        output.WriteLine($"reload from {Path.GetFileName(runningFile)}:");
        foreach (var binding in RuleReload.Plan(running, next))
        {
            output.WriteLine($"{RuleReloads.Describe(binding.Change),-24} {binding.Binding}: {binding.Reason}");
        }

        return null;
    }
}
