using Kommune.Rules.Runtime;

namespace Kommune.Engine.Reloads;

/// <summary>
/// One reload on its way through the actors: the router passes it to its areas, each area to its sensors; each says
/// how many it is about to pass it to (<see cref="Expect"/>, before telling them) and when it has applied it
/// (<see cref="Done"/>), so the reload knows when every actor alive has applied it; what each key did with its state is
/// added up per binding meanwhile. Then the summary is logged. Safe from any thread.
/// </summary>
internal sealed class RuleReloadProgress
{
    private readonly RuleReloads _owner;
    private readonly Dictionary<string, Tally> _tallies = new(StringComparer.Ordinal);
    private int _pending = 1; // the router's own share
    private bool _completed; // reported: under the tallies' lock

    public RuleReloadProgress(long number, IReadOnlyList<BindingChangePlan> plan, RuleReloads owner)
    {
        Number = number;
        Plan = plan;
        _owner = owner;
    }

    /// <summary>The reload's number in this engine's log.</summary>
    public long Number { get; }

    /// <summary>What the reload does to each binding.</summary>
    public IReadOnlyList<BindingChangePlan> Plan { get; }

    /// <summary>Whether every actor it was passed to has applied it.</summary>
    public bool IsComplete => Volatile.Read(ref _pending) == 0;

    /// <summary>An actor is about to pass the reload on to <paramref name="children"/> others (each will say <see cref="Done"/>).</summary>
    public void Expect(int children) => Interlocked.Add(ref _pending, children);

    /// <summary>An actor has applied the reload (and passed it on).</summary>
    public void Done()
    {
        if (Interlocked.Decrement(ref _pending) == 0)
        {
            Dictionary<string, Tally> tallies;
            lock (_tallies)
            {
                _completed = true;
                tallies = _tallies.ToDictionary(t => t.Key, t => t.Value with { }, StringComparer.Ordinal);
            }

            _owner.Completed(Number, Plan, tallies);
        }
    }

    /// <summary>
    /// What one key did with its state of each binding that changed; false, and nothing counted, when the reload has
    /// finished and reported already.
    /// </summary>
    public bool TryAdd(IReadOnlyList<BindingStateChange> changes)
    {
        lock (_tallies)
        {
            if (_completed)
            {
                return false;
            }

            foreach (var change in changes)
            {
                if (!_tallies.TryGetValue(change.Binding, out var tally))
                {
                    _tallies[change.Binding] = tally = new Tally();
                }

                tally.Count(change);
            }
        }

        return true;
    }

    /// <summary>Keys per outcome, and alerts closed, for one binding.</summary>
    internal sealed record Tally
    {
        public int Kept { get; private set; }

        public int Migrated { get; private set; }

        public int Reset { get; private set; }

        public int Removed { get; private set; }

        public int AlertsClosed { get; private set; }

        public void Count(BindingStateChange change)
        {
            switch (change.Change)
            {
                case BindingChange.Migrated:
                    Migrated++;
                    break;
                case BindingChange.Reset:
                    Reset++;
                    break;
                case BindingChange.Removed:
                    Removed++;
                    break;
                default:
                    Kept++;
                    break;
            }

            AlertsClosed += change.ClosedAlerts.Count;
        }
    }
}
