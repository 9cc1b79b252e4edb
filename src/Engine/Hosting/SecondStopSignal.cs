using System.Runtime.InteropServices;

namespace Kommune.Engine.Hosting;

/// <summary>
/// The first SIGTERM or SIGINT stops the host gracefully (drain, commit, flush); a second one while that runs exits
/// the process at once with 143 (SIGTERM) or 130 (SIGINT), without draining: events not yet committed are processed
/// again on the next start, as after a crash.
/// </summary>
internal sealed class SecondStopSignal : IDisposable
{
    private readonly PosixSignalRegistration _terminate;
    private readonly PosixSignalRegistration _interrupt;
    private int _signals;

    public SecondStopSignal()
    {
        _terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        _interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
    }

    public void Dispose()
    {
        _terminate.Dispose();
        _interrupt.Dispose();
    }

    private void OnSignal(PosixSignalContext context)
    {
        // The first one is the host's: its lifetime starts the graceful stop.
        if (Interlocked.Increment(ref _signals) < 2)
        {
            return;
        }

        Console.Error.WriteLine($"Second {context.Signal}: exiting now without draining; uncommitted events are processed again on the next start.");
        Console.Error.Flush();
        Console.Out.Flush();
        // Not Environment.Exit: the host's lifetime holds process exit until the graceful stop ends.
        ExitNow(context.Signal == PosixSignal.SIGINT ? 130 : 143);
    }

#pragma warning disable SYSLIB1054 // LibraryImport would need unsafe code for one call that never returns
    [DllImport("libc", EntryPoint = "_exit")]
    private static extern void ExitNow(int status);
#pragma warning restore SYSLIB1054
}
