using Akka.Actor;

namespace Kommune.Engine.Actors;

/// <summary>
/// Tells actors when their key's state is due to be written: one repeating task of the actor system's scheduler for
/// every key of an engine, instead of an Akka timer per key per checkpoint. A loaded engine makes about one checkpoint
/// per key per <see cref="EngineOptions.StateInterval"/>; an Akka timer costs eight objects (its registration,
/// cancellation, messages) that live until it fires, so at 10,000 keys every young-generation collection found tens of
/// thousands of them alive and copied them. Here a due actor is an entry of a priority queue whose array is reused.
/// </summary>
/// <remarks>
/// Time is the count of the clock's ticks on the scheduler (virtual under the TestKit's), not the wall clock: a jump of
/// the system's clock changes nothing, and a scheduler that runs late delays checkpoints, never brings them early. An
/// actor due after <c>d</c> is told at the last tick that is at most <c>d</c> away (at the next one when <c>d</c> is
/// shorter than a tick), so a state is written at most one interval after it changed, as with a timer.
/// An actor cannot take an entry back: a <see cref="Checkpoint"/> that comes when nothing is unwritten does nothing, one
/// that comes early (the key was written early, then changed again) writes what changed since, and one for an actor that
/// has stopped is a dead letter that is not logged. Thread-safe: actors add entries, the scheduler's thread takes them.
/// </remarks>
internal sealed class CheckpointClock : IDisposable
{
    private readonly object _gate = new();
    private readonly PriorityQueue<IActorRef, long> _due = new();
    private readonly List<IActorRef> _told = [];
    private readonly ICancelable _ticking;
    private long _tick; // ticks done (under _gate)

    /// <param name="scheduler">The actor system's scheduler.</param>
    /// <param name="interval">The engine's state interval: a tick is a tenth of it (between 10 and 20 ms).</param>
    public CheckpointClock(IScheduler scheduler, TimeSpan interval)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        Tick = TimeSpan.FromMilliseconds(Math.Clamp(interval.TotalMilliseconds / 10, 10, 20));
        _ticking = scheduler.Advanced.ScheduleRepeatedlyCancelable(Tick, Tick, OnTick);
    }

    /// <summary>The clock's resolution.</summary>
    public TimeSpan Tick { get; }

    /// <summary>Entries waiting (for tests and diagnostics).</summary>
    public int Waiting
    {
        get
        {
            lock (_gate)
            {
                return _due.Count;
            }
        }
    }

    /// <summary>Tells <paramref name="actor"/> <see cref="Checkpoint"/> at most <paramref name="delay"/> from now (at the next tick when shorter than one).</summary>
    public void Due(IActorRef actor, TimeSpan delay)
    {
        var ticks = Math.Max(1, (long)(delay.Ticks / Tick.Ticks));
        lock (_gate)
        {
            _due.Enqueue(actor, _tick + ticks);
        }
    }

    /// <summary>Stops the clock: nothing is told after this.</summary>
    public void Dispose() => _ticking.Cancel();

    private void OnTick()
    {
        lock (_gate)
        {
            _tick++;
            while (_due.TryPeek(out var actor, out var at) && at <= _tick)
            {
                _due.Dequeue();
                _told.Add(actor);
            }
        }

        // Told outside the lock, on the scheduler's thread only (so _told needs no lock of its own): a Tell never blocks.
        foreach (var actor in _told)
        {
            actor.Tell(Checkpoint.Instance, ActorRefs.NoSender);
        }

        _told.Clear();
    }
}
