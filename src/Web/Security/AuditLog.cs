using System.Text;
using System.Text.Json;

namespace Kommune.Web.Security;

/// <summary>
/// The audit log of the console, apart from the application log: one JSON line per operator action (login, failed
/// login, logout, acknowledge, resolve) and per opening of an alert's details, with who, what, when and from where.
/// Fall alerts are health data, so who looked at which is recorded. Each line is flushed to disk before the action
/// answers.
/// </summary>
internal sealed class AuditLog : IDisposable
{
    private readonly Lock _gate = new();
    private readonly FileStream _file;

    public AuditLog(string path, TimeProvider time)
    {
        Path = System.IO.Path.GetFullPath(path);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        _file = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.Read);
        Time = time;
    }

    /// <summary>The file's full path.</summary>
    public string Path { get; }

    private TimeProvider Time { get; }

    /// <summary>Writes one entry: who did what (to which alert), from which address, and whether it was allowed.</summary>
    public void Write(string who, string action, string? alertId, string? remoteAddress, string outcome = "ok")
    {
        var line = JsonSerializer.Serialize(new Entry(Time.GetUtcNow(), who, action, alertId, remoteAddress, outcome), Boards.ConsoleJson.Options);
        var bytes = Encoding.UTF8.GetBytes(line + "\n");
        lock (_gate)
        {
            _file.Write(bytes);
            _file.Flush(flushToDisk: true);
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _file.Dispose();
        }
    }

    private sealed record Entry(DateTimeOffset Time, string Who, string Action, string? AlertId, string? Remote, string Outcome);
}
