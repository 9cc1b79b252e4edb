using System.Reflection;
using Kommune.Engine.Plugins;
using Microsoft.Extensions.Logging;

namespace Kommune.Engine.Tests.Plugins;

/// <summary>A temporary folder with a rules file and a plugins folder, and a logger that keeps what it was told.</summary>
internal sealed class PluginWorkspace : IDisposable
{
    public PluginWorkspace()
    {
        Root = Path.Combine(Path.GetTempPath(), "kommune-plugins-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(PluginsFolder);
    }

    public string Root { get; }

    public string RulesFile => Path.Combine(Root, "rules.json");

    public string PluginsFolder => Path.Combine(Root, "plugins");

    public ListLogger Logger { get; } = new();

    /// <summary>The build output of samples/ColdRoom, built before these tests by a project reference.</summary>
    public static string SampleOutput
    {
        get
        {
            var configuration = typeof(PluginWorkspace).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
            var directory = new DirectoryInfo(AppContext.BaseDirectory);
            while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Engine.sln")))
            {
                directory = directory.Parent;
            }

            Assert.NotNull(directory);
            var output = Path.Combine(directory.FullName, "samples", "ColdRoom", "bin", configuration, "net10.0");
            Assert.True(File.Exists(Path.Combine(output, "Kommune.Samples.ColdRoom.dll")), $"the sample plugin is not built in {output}");
            return output;
        }
    }

    public RuleLoader Loader(bool withRulesFile = true) => new(withRulesFile ? RulesFile : null, PluginsFolder, Logger);

    public void WriteRules(string json) => File.WriteAllText(RulesFile, json);

    /// <summary>Copies the sample's build output into plugins/<paramref name="folder"/>/ (without Kommune.Rules: the host has it).</summary>
    public string AddColdRoom(string folder = "ColdRoom")
    {
        var target = Directory.CreateDirectory(Path.Combine(PluginsFolder, folder)).FullName;
        foreach (var file in Directory.GetFiles(SampleOutput, "Kommune.Samples.ColdRoom.*"))
        {
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)), overwrite: true);
        }

        return target;
    }

    /// <summary>A plugin folder whose main assembly is random bytes.</summary>
    public void AddGarbage(string folder)
    {
        var target = Directory.CreateDirectory(Path.Combine(PluginsFolder, folder)).FullName;
        var bytes = new byte[4096];
        new Random(42).NextBytes(bytes);
        File.WriteAllBytes(Path.Combine(target, folder + ".dll"), bytes);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

internal sealed class ListLogger : ILogger
{
    private readonly List<(LogLevel Level, string Message)> _entries = [];

    public IReadOnlyList<(LogLevel Level, string Message)> Entries
    {
        get
        {
            lock (_entries)
            {
                return [.. _entries];
            }
        }
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_entries)
        {
            _entries.Add((logLevel, formatter(state, exception)));
        }
    }
}
