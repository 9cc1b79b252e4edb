using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.Dispatch.MessageQueues;

namespace Kommune.Engine.Actors;

/// <summary>
/// The mailbox of a sensor's actor: an unbounded queue that costs nothing until a message waits. Akka's default
/// mailbox starts every actor with a concurrent queue segment of 32 slots (about 900 bytes), which a million mostly
/// idle sensors pay for nothing; this one takes a small lock per message instead. Configured as
/// <see cref="ConfigPath"/> in <see cref="KommuneEngine.AkkaConfig"/>.
/// </summary>
internal sealed class CompactMailbox(Settings settings, Config config) : MailboxType(settings, config), IProducesMessageQueue<CompactMessageQueue>
{
    /// <summary>The mailbox's name in the Akka configuration.</summary>
    public const string ConfigPath = "kommune-compact-mailbox";

    public override IMessageQueue Create(IActorRef owner, ActorSystem system) => new CompactMessageQueue();
}

/// <summary>A <see cref="Queue{T}"/> under a lock, made on the first message and dropped once a burst has drained.</summary>
internal sealed class CompactMessageQueue : IMessageQueue, IUnboundedMessageQueueSemantics
{
    /// <summary>A queue that grew past this many waiting messages is dropped when empty, not kept at its peak size.</summary>
    private const int KeptCapacity = 16;

    private readonly Lock _lock = new();
    private Queue<Envelope>? _queue;
    private int _peak;

    public bool HasMessages
    {
        get
        {
            lock (_lock)
            {
                return _queue is { Count: > 0 };
            }
        }
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _queue?.Count ?? 0;
            }
        }
    }

    public void Enqueue(IActorRef receiver, Envelope envelope)
    {
        lock (_lock)
        {
            _queue ??= new Queue<Envelope>(2);
            _queue.Enqueue(envelope);
            if (_queue.Count > _peak)
            {
                _peak = _queue.Count;
            }
        }
    }

    public bool TryDequeue(out Envelope envelope)
    {
        lock (_lock)
        {
            if (_queue is null || !_queue.TryDequeue(out envelope))
            {
                envelope = default;
                return false;
            }

            if (_queue.Count == 0 && _peak > KeptCapacity)
            {
                _queue = null;
                _peak = 0;
            }

            return true;
        }
    }

    public void CleanUp(IActorRef owner, IMessageQueue deadletters)
    {
        while (TryDequeue(out var envelope))
        {
            deadletters.Enqueue(owner, envelope);
        }
    }
}
