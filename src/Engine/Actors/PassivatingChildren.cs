using Akka.Actor;

namespace Kommune.Engine.Actors;

/// <summary>
/// The children of an actor, one per id, started on first use and stopped when idle, without losing a message.
/// A child that wants to stop says so (<see cref="Passivate"/>); from then on its messages are buffered, and it
/// is sent <see cref="ConfirmPassivation"/> behind the messages already in its mailbox, so it handles them all
/// first. If one of them left it with state, it stays and says so (<see cref="PassivationCancelled"/>): the buffered
/// messages go to it. Otherwise it stops, and a buffered message starts a new incarnation that receives them in
/// order. This is how Akka's cluster sharding passivates entities. Owned by one actor, used only from its message
/// handlers.
/// </summary>
/// <param name="context">The owning actor's context.</param>
/// <param name="childProps">How to make a child.</param>
/// <param name="started">Called when a child starts.</param>
/// <param name="stopped">Called when a child has stopped.</param>
/// <param name="delivered">Called with the child and message each time one is told (also messages buffered across a stop).</param>
internal sealed class PassivatingChildren(IActorContext context, Props childProps, Action started, Action stopped, Action<IActorRef, object>? delivered = null)
{
    private readonly Dictionary<string, IActorRef> _byId = new(StringComparer.Ordinal);
    private readonly Dictionary<IActorRef, string> _byRef = new(ActorRefComparer.Instance);
    private readonly Dictionary<string, List<(object Message, IActorRef Sender)>> _buffers = new(StringComparer.Ordinal);

    /// <summary>Children alive or stopping.</summary>
    public int Count => _byId.Count;

    /// <summary>Whether the child for <paramref name="id"/> is alive or stopping.</summary>
    public bool Contains(string id) => _byId.ContainsKey(id);

    /// <summary>Delivers a message to the child for <paramref name="id"/>, starting it if needed.</summary>
    public void Deliver(string id, object message, IActorRef sender)
    {
        if (_buffers.TryGetValue(id, out var buffer))
        {
            buffer.Add((message, sender));
            return;
        }

        if (!_byId.TryGetValue(id, out var child))
        {
            child = context.Watch(context.ActorOf(childProps, ActorNames.Unique(id)));
            started();
            _byId[id] = child;
            _byRef[child] = id;
        }

        child.Tell(message, sender);
        delivered?.Invoke(child, message);
    }

    /// <summary>
    /// Delivers a message to the child for <paramref name="id"/> ahead of the messages waiting for its next incarnation
    /// while it stops (so that incarnation handles it first); to a child not stopping, as <see cref="Deliver"/>.
    /// </summary>
    public void DeliverFirst(string id, object message, IActorRef sender)
    {
        if (_buffers.TryGetValue(id, out var buffer))
        {
            buffer.Insert(0, (message, sender));
            return;
        }

        Deliver(id, message, sender);
    }

    /// <summary>Whether messages wait for the next incarnation of the child for <paramref name="id"/>, which is stopping.</summary>
    public bool HasWaiting(string id) => _buffers.TryGetValue(id, out var buffer) && buffer.Count > 0;

    /// <summary>Children running (not stopping): those <see cref="Broadcast"/> tells.</summary>
    public int Running => _byId.Count - _buffers.Count;

    /// <summary>
    /// Tells every running child (not those stopping: their next incarnation starts from the shared state), taking a part
    /// of <paramref name="parts"/> for each before it is told; with <paramref name="parts"/>, a stopping child that has
    /// messages waiting for its next incarnation gets it after them. With <paramref name="only"/>, only the children whose
    /// id it accepts.
    /// </summary>
    public void Broadcast(object message, IActorRef sender, ICountdown? parts = null, Func<string, bool>? only = null)
    {
        foreach (var (id, child) in _byId)
        {
            if (only is not null && !only(id))
            {
                continue;
            }

            if (!_buffers.TryGetValue(id, out var buffer))
            {
                parts?.Add();
                child.Tell(message, sender);
            }
            else if (parts is not null && buffer.Count > 0)
            {
                // Messages wait for its next incarnation: a barrier must pass only after them.
                parts.Add();
                buffer.Add((message, sender));
            }
        }
    }

    /// <summary>
    /// Tells a child, or, when it is stopping, buffers the message for its next incarnation (behind what is buffered
    /// already), so that a barrier it carries passes only after the messages sent to the child before it.
    /// </summary>
    public void TellInOrder(IActorRef child, object message, IActorRef sender)
    {
        if (_byRef.TryGetValue(child, out var id) && _buffers.TryGetValue(id, out var buffer))
        {
            buffer.Add((message, sender));
        }
        else
        {
            child.Tell(message, sender);
        }
    }

    /// <summary>
    /// Tells every child, also those stopping (theirs is buffered for their next incarnation, so one that cancels its stop
    /// gets it too), taking a part of <paramref name="parts"/> for each before it is told.
    /// </summary>
    public void TellAll(object message, IActorRef sender, Countdown parts)
    {
        foreach (var id in _byId.Keys.ToList())
        {
            parts.Add();
            Deliver(id, message, sender);
        }
    }

    /// <summary>A child asked to stop: buffer its messages and let it finish its mailbox.</summary>
    public void Passivate(IActorRef child)
    {
        if (!_byRef.TryGetValue(child, out var id) || _buffers.ContainsKey(id))
        {
            return;
        }

        _buffers[id] = [];
        child.Tell(ConfirmPassivation.Instance);
    }

    /// <summary>A child asked to stop, then found it could not (a message it had not yet handled left it with state).</summary>
    public void Cancelled(IActorRef child)
    {
        if (!_byRef.TryGetValue(child, out var id) || !_buffers.Remove(id, out var buffer))
        {
            return;
        }

        foreach (var (message, sender) in buffer)
        {
            Deliver(id, message, sender);
        }
    }

    /// <summary>A child stopped: forget it, and restart it if messages arrived meanwhile.</summary>
    /// <returns>true when it was one of these children.</returns>
    public bool Terminated(IActorRef child)
    {
        if (!_byRef.Remove(child, out var id))
        {
            return false;
        }

        _byId.Remove(id);
        stopped();
        if (_buffers.Remove(id, out var buffer))
        {
            foreach (var (message, sender) in buffer)
            {
                Deliver(id, message, sender);
            }
        }

        return true;
    }
}

/// <summary>What a child does on <see cref="ConfirmPassivation"/>.</summary>
internal static class Passivation
{
    /// <summary>Stops the child if it still <paramref name="canStop"/>; otherwise tells its parent it stays.</summary>
    public static void Confirm(IActorContext context, bool canStop)
    {
        if (canStop)
        {
            context.Stop(context.Self);
        }
        else
        {
            context.Parent.Tell(PassivationCancelled.Instance);
        }
    }
}

/// <summary>Sent by an idle child to its parent: "hold my messages, I want to stop".</summary>
internal sealed record Passivate
{
    public static Passivate Instance { get; } = new();
}

/// <summary>
/// From the parent, behind every message it sent before: "your messages are held; stop now if you still can".
/// The child stops itself, or answers <see cref="PassivationCancelled"/>.
/// </summary>
internal sealed record ConfirmPassivation
{
    public static ConfirmPassivation Instance { get; } = new();
}

/// <summary>To the parent: "a message I handled since asking left me with state; I stay, send me what you held".</summary>
internal sealed record PassivationCancelled
{
    public static PassivationCancelled Instance { get; } = new();
}
