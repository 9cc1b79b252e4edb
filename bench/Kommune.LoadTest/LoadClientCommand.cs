using System.CommandLine;
using System.Globalization;
using System.Text.Json;

namespace Kommune.LoadTest;

/// <summary>
/// The child's side of <see cref="LoadClientProcess"/>: this program's hidden <c>load-client</c> command, which runs
/// one measured run's generator and latency reader (<see cref="InProcessLoadClient"/>) and does what its standard input
/// says, one command a line, each answered with one line on its standard output (<c>outcome</c> with one more line per
/// fall). It prints <c>ready</c> once its reader reads, and exits when its input closes or on SIGTERM.
/// </summary>
internal static class LoadClientCommand
{
    public const string Name = "load-client";

    public static Command Build()
    {
        var bootstrap = new Option<string>("--bootstrap-servers") { Required = true };
        var input = new Option<string>("--input") { Description = "The topic the generator produces to.", Required = true };
        var output = new Option<string>("--output") { Description = "The topic the latency reader reads.", Required = true };
        var fallIds = new Option<FallIdSource>("--fall-ids") { Required = true };
        var settings = new Option<string>("--settings") { Description = "The run's LoadSettings as JSON.", Required = true };
        var command = new Command(Name, "The generator and the latency reader of one run, driven over standard input (used by --separate-generator).")
        {
            bootstrap, input, output, fallIds, settings,
        };
        command.Hidden = true;
        command.SetAction(async (parse, cancellationToken) =>
        {
            var run = JsonSerializer.Deserialize<LoadSettings>(parse.GetValue(settings)!)!;
            await using var client = new InProcessLoadClient(parse.GetValue(bootstrap)!, parse.GetValue(input)!, parse.GetValue(output)!, parse.GetValue(fallIds), run);
            await ServeAsync(client, Console.In, Console.Out, cancellationToken);
            return 0;
        });
        return command;
    }

    private static async Task ServeAsync(InProcessLoadClient client, TextReader commands, TextWriter answers, CancellationToken cancellationToken)
    {
        await answers.WriteLineAsync("ready");
        await answers.FlushAsync(cancellationToken);
        while (await commands.ReadLineAsync(cancellationToken) is { } command)
        {
            switch (command)
            {
                case "start":
                    await client.StartAsync(cancellationToken);
                    await answers.WriteLineAsync("started");
                    break;
                case "progress":
                    var p = await client.ProgressAsync(cancellationToken);
                    await answers.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"progress {p.Produced} {p.Read} {p.FallsMeasured} {p.P99Ms:0.000}"));
                    break;
                case "measure":
                    await client.StartMeasuringAsync(cancellationToken);
                    await answers.WriteLineAsync("measuring");
                    break;
                case "stop":
                    await client.StopAsync(cancellationToken);
                    await answers.WriteLineAsync("stopped");
                    break;
                case "outcome":
                    var outcome = await client.OutcomeAsync(cancellationToken);
                    await answers.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"outcome {outcome.MeasureFrom} {outcome.Outputs.Count}"));
                    foreach (var f in outcome.Outputs)
                    {
                        await answers.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"fall {f.Id} {f.Intended} {f.Readable} {f.RecordTimestampMs}"));
                    }

                    break;
                default:
                    await answers.WriteLineAsync($"unknown {command}");
                    break;
            }

            await answers.FlushAsync(cancellationToken);
        }
    }
}
