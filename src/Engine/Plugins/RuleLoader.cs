using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Kommune.Rules.Api;
using Kommune.Rules.BuiltIn;
using Kommune.Rules.Runtime;
using Microsoft.Extensions.Logging;

namespace Kommune.Engine.Plugins;

/// <summary>What <see cref="RuleLoader.Load"/> made.</summary>
/// <param name="Rules">The rule set to run.</param>
/// <param name="Problems">Plugins that failed to load and the bindings skipped because of them, one line each.</param>
/// <param name="PluginFailures">How many plugins failed (to load, or to make one of their rules).</param>
internal sealed record RuleLoadResult(RuleSet Rules, IReadOnlyList<string> Problems, int PluginFailures);

/// <summary>
/// Makes the engine's <see cref="RuleSet"/> from a rules file and a plugins folder, and remakes it on reload.
/// </summary>
/// <remarks>
/// <para>
/// Each subfolder of the plugins folder is one plugin: its main assembly is <c>&lt;folder&gt;/&lt;folder&gt;.dll</c>,
/// or else the single .dll that holds [Rule] types. Each plugin loads into its own collectible context; a plugin
/// that fails to load is reported and only the bindings naming it are skipped. Built-in rules (the [Rule] types of
/// Kommune.Rules.BuiltIn) need no plugin. Without a rules file the set is <see cref="DefaultRules"/>: every built-in
/// municipal rule with its default parameters.
/// </para>
/// <para>
/// <see cref="Load"/> is also the reload. A plugin whose .dll files are unchanged keeps its context and types; a
/// binding whose name, rule, plugin contents, sensor types, areas and parameters are unchanged is returned as the
/// same <see cref="RuleBinding"/> (same rule instance and fingerprint), so the engine keeps its state. A replaced
/// or removed plugin's context is unloaded: its rules keep working until the engine drops them, then it is
/// collected. A wrong rules file throws <see cref="RulesFileException"/> and changes nothing.
/// </para>
/// </remarks>
internal sealed partial class RuleLoader : IDisposable
{
    private const string DefaultRulesLabel = "(default rules)";

    /// <summary>The rules run without a rules file: every built-in municipal rule with its defaults.</summary>
    public static readonly IReadOnlyList<string> DefaultRules =
    [
        FallEscalationRule.RuleName, CongestionRule.RuleName, CongestionAreaRule.RuleName, ParkingRule.RuleName,
        EnergyAreaRule.RuleName, EnergyAnomalyRule.RuleName,
    ];
    private static readonly Lazy<Dictionary<string, Type>> BuiltIns = new(ScanBuiltIns);
    private readonly string? _rulesFile;
    private readonly string? _pluginsFolder;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private Dictionary<string, Plugin> _plugins = new(StringComparer.Ordinal);
    private Dictionary<string, RuleBinding> _bindings = new(StringComparer.Ordinal);
    private bool _disposed;

    /// <summary>A loader; nothing is read until <see cref="Load"/>.</summary>
    /// <param name="rulesFile">The rules file (JSON), or null for the default rules.</param>
    /// <param name="pluginsFolder">The plugins folder, or null for built-in rules only.</param>
    /// <param name="logger">Where plugin failures and reloads are logged.</param>
    public RuleLoader(string? rulesFile, string? pluginsFolder, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(logger);
        _rulesFile = string.IsNullOrWhiteSpace(rulesFile) ? null : Path.GetFullPath(rulesFile);
        _pluginsFolder = string.IsNullOrWhiteSpace(pluginsFolder) ? null : Path.GetFullPath(pluginsFolder);
        _logger = logger;
    }

    /// <summary>
    /// Reads the rules file and the plugins folder and makes the rule set; on later calls, reloads what changed
    /// and returns unchanged bindings as the same objects. Safe to call from any thread; calls run one at a time.
    /// </summary>
    /// <exception cref="RulesFileException">The rules file is wrong: every error, one per line. The previous set stays current.</exception>
    public RuleLoadResult Load()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var file = _rulesFile is null ? DefaultRulesLabel : Path.GetFileName(_rulesFile);
            var errors = new List<string>();
            IReadOnlyList<RuleEntry> entries = _rulesFile is null
                ? [.. DefaultRules.Select(name => new RuleEntry($"rule '{name}'", name, name, null, null, null, true, null, true))]
                : RulesFile.Read(_rulesFile, file, errors);

            var problems = new List<string>();
            var plugins = LoadPlugins(problems);
            var failed = plugins.Values.Where(p => p.Failure is not null).ToDictionary(p => p.Name, p => p.Failure!, StringComparer.Ordinal);
            var bindings = new List<RuleBinding>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var entry in entries)
            {
                if (Bind(entry, file, plugins, failed, names, errors, problems) is { } binding && entry.Enabled)
                {
                    bindings.Add(binding);
                }
            }

            if (errors.Count > 0)
            {
                foreach (var plugin in plugins.Values.Where(p => !_plugins.ContainsValue(p)))
                {
                    plugin.Unload();
                }

                throw new RulesFileException([.. errors.Select(Plugin.OneLine)]);
            }

            var reused = bindings.Count(b => _bindings.TryGetValue(b.Name, out var old) && ReferenceEquals(old, b));
            foreach (var old in _plugins.Values.Where(p => !plugins.ContainsValue(p)))
            {
                LogPluginUnloading(_logger, old.Name);
                old.Unload();
            }

            _plugins = plugins.Values.Where(p => p.Failure is null).ToDictionary(p => p.Name, StringComparer.Ordinal);
            _bindings = bindings.ToDictionary(b => b.Name, StringComparer.Ordinal);
            LogRulesLoaded(_logger, bindings.Count, reused, failed.Count);
            return new RuleLoadResult(new RuleSet(bindings), problems, failed.Count);
        }
    }

    /// <summary>Unloads every plugin's context. The rules made so far must no longer run.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            foreach (var plugin in _plugins.Values)
            {
                plugin.Unload();
            }

            _plugins = [];
            _bindings = [];
        }
    }

    private Dictionary<string, Plugin> LoadPlugins(List<string> problems)
    {
        var plugins = new Dictionary<string, Plugin>(StringComparer.Ordinal);
        if (_pluginsFolder is null)
        {
            return plugins;
        }

        if (!Directory.Exists(_pluginsFolder))
        {
            problems.Add($"plugins folder {_pluginsFolder} does not exist");
            LogPluginsFolderMissing(_logger, _pluginsFolder);
            return plugins;
        }

        foreach (var folder in Directory.GetDirectories(_pluginsFolder).Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(folder);
            Plugin plugin;
            Plugin? current = null;
            try
            {
                var hash = Plugin.HashOf(folder);
                plugin = _plugins.TryGetValue(name, out current) && current.Hash == hash ? current : Plugin.Load(folder, hash);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                plugin = Plugin.Failed(name, "", $"its files cannot be read: {Plugin.OneLine(e.Message)}");
            }

            plugins[name] = plugin;
            if (plugin.Failure is not null)
            {
                problems.Add($"plugin '{name}': failed to load: {plugin.Failure}");
                LogPluginFailed(_logger, name, plugin.Failure);
            }
            else if (!ReferenceEquals(plugin, current))
            {
                var rules = string.Join(", ", plugin.Rules.Keys.Order(StringComparer.Ordinal));
                LogPluginLoaded(_logger, name, rules);
            }
        }

        return plugins;
    }

    /// <summary>Checks one entry and makes (or keeps) its binding; null when it has errors or is skipped.</summary>
    private RuleBinding? Bind(
        RuleEntry entry,
        string file,
        Dictionary<string, Plugin> plugins,
        Dictionary<string, string> failed,
        HashSet<string> names,
        List<string> errors,
        List<string> problems)
    {
        var errorsBefore = errors.Count;
        void Error(string field, string problem) => errors.Add($"{file}: {entry.Label}: field '{field}': {problem}");
        void Skip(string reason)
        {
            var problem = $"{file}: {entry.Label}: skipped: {reason}";
            problems.Add(problem);
            LogBindingSkipped(_logger, problem);
        }

        if (entry.Name is not null && !names.Add(entry.Name))
        {
            Error("name", "another rule has the same name");
        }

        if (entry.Rule is null || !Resolve(entry, plugins, failed, Error, Skip, out var type, out var plugin))
        {
            return null;
        }

        var source = plugin is null ? $"built-in:{type.Assembly.ManifestModule.ModuleVersionId}" : $"plugin:{plugin.Name}:{plugin.Hash}";
        var parametersJson = RulesFile.Canonical(entry.Parameters);
        var fingerprint = Fingerprint(entry.Name ?? "", entry.Rule, source, entry.SensorTypes, entry.Areas, parametersJson);
        if (entry.Name is not null && _bindings.TryGetValue(entry.Name, out var old) && old.Fingerprint == fingerprint)
        {
            return errors.Count == errorsBefore ? old : null;
        }

        if (!entry.ParametersValid)
        {
            return null;
        }

        var parameters = new RuleParameters(entry.Parameters);
        Rule rule;
        try
        {
            var constructor = Plugin.Constructor(type)!;
            rule = (Rule)constructor.Invoke(constructor.GetParameters().Length == 1 ? [parameters] : []);
        }
        catch (TargetInvocationException e) when (e.InnerException is RuleParameterException problem)
        {
            var prefix = $"parameter '{problem.Parameter}' ";
            Error($"parameters.{problem.Parameter}", problem.Message.StartsWith(prefix, StringComparison.Ordinal) ? problem.Message[prefix.Length..] : problem.Message);
            return null;
        }
        catch (Exception e) when (plugin is not null && (e.InnerException ?? e) is TypeLoadException or FileNotFoundException or FileLoadException or BadImageFormatException or MissingMemberException)
        {
            var reason = $"rule '{entry.Rule}' cannot be made: {Plugin.Describe(e.InnerException ?? e)}";
            failed.TryAdd(plugin.Name, reason);
            problems.Add($"plugin '{plugin.Name}': {reason}");
            LogPluginFailed(_logger, plugin.Name, reason);
            Skip($"plugin '{plugin.Name}' failed: {reason}");
            return null;
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            Error("parameters", $"rule '{entry.Rule}' refused them: {Plugin.Describe(e.InnerException)}");
            return null;
        }

        foreach (var unread in parameters.Unread)
        {
            Error($"parameters.{unread}", "unknown parameter");
        }

        if (entry.SensorTypes is not null && rule.SensorTypes.Count > 0)
        {
            foreach (var sensorType in entry.SensorTypes.Where(t => !rule.SensorTypes.Contains(t)))
            {
                Error("sensorTypes", $"rule '{entry.Rule}' does not handle sensor type '{sensorType}' (it handles: {string.Join(", ", rule.SensorTypes)})");
            }
        }

        if (StateVersionOf(rule) is { } versionProblem)
        {
            Error("rule", $"rule '{entry.Rule}' {versionProblem}");
        }

        return errors.Count == errorsBefore && entry.Name is not null
            ? new RuleBinding(entry.Name, rule, entry.SensorTypes, entry.Areas, fingerprint, ParametersFingerprint(parametersJson))
            : null;
    }

    /// <summary>Finds the entry's rule type: in its plugin when it names one, else built in, else in the one plugin that has it.</summary>
    private bool Resolve(
        RuleEntry entry,
        Dictionary<string, Plugin> plugins,
        Dictionary<string, string> failed,
        Action<string, string> error,
        Action<string> skip,
        out Type type,
        out Plugin? plugin)
    {
        type = typeof(Rule);
        plugin = null;
        var rule = entry.Rule!;
        if (entry.Plugin is { } pluginName)
        {
            if (!plugins.TryGetValue(pluginName, out plugin))
            {
                error("plugin", _pluginsFolder is null
                    ? $"no plugins folder is configured, so there is no plugin '{pluginName}'"
                    : $"there is no plugin folder '{pluginName}' in {_pluginsFolder}");
                return false;
            }

            if (failed.TryGetValue(pluginName, out var reason))
            {
                if (entry.Enabled)
                {
                    skip($"plugin '{pluginName}' failed: {reason}");
                }

                return false;
            }

            if (!plugin.Rules.TryGetValue(rule, out type!))
            {
                error("rule", $"plugin '{pluginName}' has no rule '{rule}' (it has: {string.Join(", ", plugin.Rules.Keys.Order(StringComparer.Ordinal))})");
                return false;
            }

            return true;
        }

        if (BuiltIns.Value.TryGetValue(rule, out type!))
        {
            return true;
        }

        var providers = plugins.Values.Where(p => p.Failure is null && p.Rules.ContainsKey(rule)).ToList();
        if (providers.Count == 1)
        {
            plugin = providers[0];
            type = plugin.Rules[rule];
            return true;
        }

        if (providers.Count > 1)
        {
            error("rule", $"'{rule}' is in several plugins ({string.Join(", ", providers.Select(p => p.Name))}); name one in 'plugin'");
        }
        else if (failed.Count > 0)
        {
            if (entry.Enabled)
            {
                skip($"no built-in or loaded plugin has rule '{rule}', and plugins that failed may have had it ({string.Join(", ", failed.Keys)})");
            }
        }
        else
        {
            var known = BuiltIns.Value.Keys.Concat(plugins.Values.SelectMany(p => p.Rules.Keys)).Distinct().Order(StringComparer.Ordinal);
            error("rule", $"no built-in or plugin rule is named '{rule}' (known: {string.Join(", ", known)})");
        }

        return false;
    }

    private static string Fingerprint(string name, string rule, string source, IReadOnlyList<string>? sensorTypes, IReadOnlyList<string>? areas, string parameters)
    {
        string[] parts =
        [
            name,
            rule,
            source,
            string.Join(',', (sensorTypes ?? []).Distinct().Order(StringComparer.Ordinal)),
            string.Join(',', (areas ?? []).Distinct().Order(StringComparer.Ordinal)),
            parameters,
        ];
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(parts))));
    }

    /// <summary>A short hash of the canonical parameters: a reload tells new parameters from a rebuilt plugin by it.</summary>
    private static string ParametersFingerprint(string canonicalParameters) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonicalParameters)))[..16];

    /// <summary>What is wrong with the rule's <see cref="Rule.StateVersion"/>, or null.</summary>
    private static string? StateVersionOf(Rule rule)
    {
        try
        {
            return rule.StateVersion >= 1 ? null : $"has StateVersion {rule.StateVersion}: it must be 1 or more";
        }
#pragma warning disable CA1031 // Plugin code: whatever it throws is reported as the binding's mistake.
        catch (Exception e)
#pragma warning restore CA1031
        {
            return $"threw reading its StateVersion: {Plugin.Describe(e)}";
        }
    }

    private static Dictionary<string, Type> ScanBuiltIns() =>
        typeof(FallAlertRule).Assembly.GetTypes()
            .Where(t => t is { IsAbstract: false, ContainsGenericParameters: false } && typeof(Rule).IsAssignableFrom(t) && Plugin.Constructor(t) is not null)
            .Select(t => (Type: t, Attribute: t.GetCustomAttribute<RuleAttribute>(inherit: false)))
            .Where(r => r.Attribute is not null)
            .ToDictionary(r => r.Attribute!.Name, r => r.Type, StringComparer.Ordinal);

    [LoggerMessage(EventId = 6001, Level = LogLevel.Information, Message = "Plugin {Plugin} loaded with rules {Rules}")]
    private static partial void LogPluginLoaded(ILogger logger, string plugin, string rules);

    [LoggerMessage(EventId = 6002, Level = LogLevel.Error, Message = "Plugin {Plugin} failed: {Reason}")]
    private static partial void LogPluginFailed(ILogger logger, string plugin, string reason);

    [LoggerMessage(EventId = 6003, Level = LogLevel.Warning, Message = "Rule binding skipped: {Problem}")]
    private static partial void LogBindingSkipped(ILogger logger, string problem);

    [LoggerMessage(EventId = 6004, Level = LogLevel.Information, Message = "Plugin {Plugin} was replaced or removed; unloading its old context")]
    private static partial void LogPluginUnloading(ILogger logger, string plugin);

    [LoggerMessage(EventId = 6005, Level = LogLevel.Warning, Message = "Plugins folder {Folder} does not exist")]
    private static partial void LogPluginsFolderMissing(ILogger logger, string folder);

    [LoggerMessage(EventId = 6006, Level = LogLevel.Information, Message = "Rules loaded: {Bindings} bindings ({Reused} unchanged), {Failures} plugin failures")]
    private static partial void LogRulesLoaded(ILogger logger, int bindings, int reused, int failures);
}
