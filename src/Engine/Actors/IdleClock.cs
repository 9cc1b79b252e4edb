using Akka.Actor;

namespace Kommune.Engine.Actors;

/// <summary>
/// Tells an actor when it has had no message for its idle timeout, like Akka's receive timeout but without its cost:
/// a receive timeout cancels and schedules a timer at every message (in the profile of a loaded engine, 14 % of CPU
/// time), this notes the time of each message and keeps one timer that, when due, either reports the actor idle or
/// is set again for the rest of the timeout. Uses the actor system's scheduler for the time (virtual under the
/// TestKit's scheduler). Owned by one actor; its timer message is <see cref="IdleCheck"/>.
/// </summary>
/// <param name="scheduler">The actor system's scheduler.</param>
/// <param name="timers">The owning actor's timers.</param>
/// <param name="timeout">How long without a message makes the actor idle.</param>
internal sealed class IdleClock(IScheduler scheduler, ITimerScheduler timers, TimeSpan timeout)
{
    private const string TimerKey = "idle";
    private DateTimeOffset _lastActive = scheduler.Now;

    /// <summary>Starts the clock (from the actor's PreStart: its timers are not set in its constructor).</summary>
    public void Start()
    {
        _lastActive = scheduler.Now;
        timers.StartSingleTimer(TimerKey, IdleCheck.Instance, timeout);
    }

    /// <summary>A message other than <see cref="IdleCheck"/> arrived.</summary>
    public void Active() => _lastActive = scheduler.Now;

    /// <summary>
    /// On <see cref="IdleCheck"/>: true when no message came for the timeout (the timer is then set again for a full
    /// timeout, in case the actor stays); otherwise false, and the timer is set for the rest of the timeout.
    /// </summary>
    public bool IsIdle()
    {
        var quiet = scheduler.Now - _lastActive;
        if (quiet >= timeout)
        {
            timers.StartSingleTimer(TimerKey, IdleCheck.Instance, timeout);
            return true;
        }

        timers.StartSingleTimer(TimerKey, IdleCheck.Instance, timeout - quiet);
        return false;
    }
}

/// <summary>To itself: the idle clock's timer is due.</summary>
internal sealed record IdleCheck
{
    public static IdleCheck Instance { get; } = new();
}
