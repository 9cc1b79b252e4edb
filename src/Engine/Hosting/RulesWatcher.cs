using System.Runtime.InteropServices;

namespace Kommune.Engine.Hosting;

/// <summary>
/// Calls <c>reload</c> when the rules file or anything in the plugins folder changes (after changes have been
/// quiet for a moment, so a plugin copied file by file reloads once), and on SIGHUP, the usual "reload your
/// configuration" command: <c>kill -HUP &lt;pid&gt;</c>.
/// </summary>
internal sealed class RulesWatcher : IDisposable
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(500);
    private readonly List<FileSystemWatcher> _watchers = [];
    private readonly PosixSignalRegistration? _hangup;
    private readonly ITimer _debounce;

    public RulesWatcher(string? rulesFile, string? pluginsFolder, Action reload, TimeProvider clock)
    {
        ArgumentNullException.ThrowIfNull(reload);
        _debounce = clock.CreateTimer(_ => reload(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        if (!string.IsNullOrWhiteSpace(rulesFile))
        {
            var full = Path.GetFullPath(rulesFile);
            Watch(new FileSystemWatcher(Path.GetDirectoryName(full)!, Path.GetFileName(full)));
        }

        if (!string.IsNullOrWhiteSpace(pluginsFolder) && Directory.Exists(pluginsFolder))
        {
            Watch(new FileSystemWatcher(Path.GetFullPath(pluginsFolder)) { IncludeSubdirectories = true });
        }

        if (!OperatingSystem.IsWindows())
        {
            _hangup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
            {
                context.Cancel = true;
                reload();
            });
        }
    }

    public void Dispose()
    {
        foreach (var watcher in _watchers)
        {
            watcher.Dispose();
        }

        _hangup?.Dispose();
        _debounce.Dispose();
    }

    private void Watch(FileSystemWatcher watcher)
    {
        watcher.NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite | NotifyFilters.Size;
        watcher.Changed += (_, _) => Changed();
        watcher.Created += (_, _) => Changed();
        watcher.Deleted += (_, _) => Changed();
        watcher.Renamed += (_, _) => Changed();
        watcher.EnableRaisingEvents = true;
        _watchers.Add(watcher);
    }

    private void Changed() => _debounce.Change(Quiet, Timeout.InfiniteTimeSpan);
}
