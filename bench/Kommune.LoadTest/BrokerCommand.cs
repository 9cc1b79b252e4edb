using System.CommandLine;

namespace Kommune.LoadTest;

/// <summary>
/// The child's side of <see cref="BrokerProcess"/>: this program's hidden <c>broker</c> command, the embedded broker
/// with the engine's topics and the ones named, every one with the same partition count. It prints
/// <c>listening on &lt;bootstrap servers&gt;</c> once the topics exist, and runs until SIGTERM or until its input closes.
/// </summary>
internal static class BrokerCommand
{
    public const string Name = "broker";

    public static Command Build()
    {
        var partitions = new Option<int>("--partitions") { Required = true };
        var topics = new Option<string[]>("--topics") { Description = "Topics to make besides the engine's.", AllowMultipleArgumentsPerToken = true };
        var command = new Command(Name, "The embedded broker alone, with the engine's topics and the load test's (used by --separate-broker).")
        {
            partitions, topics,
        };
        command.Hidden = true;
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var broker = new BenchBroker(new LoadSettings { Partitions = parse.GetValue(partitions) }, parse.GetValue(topics) ?? []);
            Console.WriteLine($"listening on {broker.BootstrapServers}");
            // Until SIGTERM (the token) or the parent closes our input.
            await Task.WhenAny(Console.In.ReadToEndAsync(CancellationToken.None), Task.Delay(Timeout.Infinite, cancellationToken));
            return 0;
        });
        return command;
    }
}
