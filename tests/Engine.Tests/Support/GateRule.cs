using Kommune.Rules.Api;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;

namespace Kommune.Engine.Tests.Support;

/// <summary>
/// A rule that holds the events of sensors whose id starts with "gate" until the test opens the gate: a slow
/// sensor, made deterministic. It blocks its actor's thread, which only a test may do.
/// </summary>
internal sealed class Gate : IDisposable
{
    private readonly ManualResetEventSlim _open = new(false);
    private readonly ManualResetEventSlim _entered = new(false);

    public RuleBinding Binding => new("gate", new GateRule(this));

    public void WaitUntilEntered()
    {
        if (!_entered.Wait(KafkaTestBed.DefaultWait))
        {
            throw new TimeoutException("No event reached the gate.");
        }
    }

    public void Open() => _open.Set();

    public void Dispose()
    {
        _open.Set();
        _open.Dispose();
        _entered.Dispose();
    }

    private sealed class GateRule(Gate gate) : Rule
    {
        public override bool Accepts(SensorEvent sensorEvent) => sensorEvent.SensorId.StartsWith("gate", StringComparison.Ordinal);

        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
        {
            gate._entered.Set();
            gate._open.Wait(KafkaTestBed.DefaultWait);
        }
    }
}
