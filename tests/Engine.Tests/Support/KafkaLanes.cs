namespace Kommune.Engine.Tests.Support;

/// <summary>
/// The two lanes the Kafka tests run in. Each such test starts brokers, consumer groups and often engine processes
/// or builds, so a lane runs one test at a time; the two lanes run beside each other (and beside the tests that need
/// no broker), which keeps a 2-core machine busy without starving either. Which lane a test class is in only balances
/// the lanes' lengths: no test depends on another.
/// </summary>
public static class KafkaLanes
{
    /// <summary>The first lane.</summary>
    public const string First = "kafka, first lane";

    /// <summary>The second lane: the scale-out tests, which start several engine processes, and tests moved there to
    /// even out the two lanes' times.</summary>
    public const string Second = "kafka, second lane";
}

[CollectionDefinition(KafkaLanes.First)]
public sealed class FirstKafkaLane;

[CollectionDefinition(KafkaLanes.Second)]
public sealed class SecondKafkaLane;
