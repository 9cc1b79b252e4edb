using System.CommandLine;
using Kommune.Engine.Cli;
using Kommune.Engine.Hosting;

namespace Kommune.Engine.Tests;

public sealed class CommandLineTests
{
    [Fact]
    public async Task Help_lists_every_command_with_a_description()
    {
        using var output = new StringWriter();
        var exit = await KommuneCommandLine.Build().Parse(["--help"]).InvokeAsync(new InvocationConfiguration { Output = output });

        Assert.Equal(0, exit);
        var text = output.ToString();
        foreach (var command in new[] { "demo", "broker", "run", "simulate" })
        {
            Assert.Contains(command, text, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("run")]
    [InlineData("simulate")]
    public void Commands_that_connect_to_kafka_require_bootstrap_servers(string command)
    {
        var parse = KommuneCommandLine.Build().Parse([command]);

        Assert.Contains(parse.Errors, e => e.Message.Contains("--bootstrap-servers", StringComparison.Ordinal));
    }

    [Fact]
    public void An_unknown_log_format_is_refused_with_the_formats_there_are()
    {
        var parse = KommuneCommandLine.Build().Parse(["run", "-b", "b:9092", "--log-format", "xml"]);

        var error = Assert.Single(parse.Errors);
        Assert.Contains("'xml' not recognized", error.Message, StringComparison.Ordinal);
        Assert.Contains("json", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Invalid_metrics_and_log_settings_are_refused_with_each_named()
    {
        var options = new EngineOptions
        {
            BootstrapServers = "b:9092",
            MetricsPort = 70000,
            MetricsHost = "every interface",
            LogFormat = "xml",
            EarliestEventTime = new DateTimeOffset(1969, 12, 31, 0, 0, 0, TimeSpan.Zero),
        };

        var error = Assert.Throws<ArgumentException>(options.Validate);

        Assert.Contains("MetricsPort must be a port", error.Message, StringComparison.Ordinal);
        Assert.Contains("MetricsHost must be an IP address", error.Message, StringComparison.Ordinal);
        Assert.Contains("LogFormat must be json or text, not 'xml'", error.Message, StringComparison.Ordinal);
        Assert.Contains("EarliestEventTime must not be before 1970", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--rate", "0")]
    [InlineData("--rate", "-5")]
    [InlineData("--sensors", "0")]
    [InlineData("--partitions", "-1")]
    [InlineData("--duration", "0")]
    [InlineData("--falls-per-minute", "-1")]
    public void Out_of_range_values_are_refused_with_the_option_named(string option, string value)
    {
        var parse = KommuneCommandLine.Build().Parse(["demo", option, value]);

        Assert.Contains(parse.Errors, e => e.Message.Contains(option, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("17")]
    public void Demo_nodes_outside_1_to_16_are_refused_with_the_range(string nodes)
    {
        var parse = KommuneCommandLine.Build().Parse(["demo", "--nodes", nodes]);

        // Each error of a demo option is listed twice today (System.CommandLine); what matters is what it says.
        var error = Assert.Single(parse.Errors.Select(e => e.Message).Distinct());
        Assert.Equal($"--nodes must be from 1 to 16, not {nodes}.", error);
    }

    [Fact]
    public void Every_option_of_every_command_has_help_text()
    {
        var root = KommuneCommandLine.Build();
        foreach (var command in root.Subcommands.Append(root))
        {
            Assert.False(string.IsNullOrWhiteSpace(command.Description), command.Name);
            foreach (var option in command.Options.Where(o => !o.Name.StartsWith("--help", StringComparison.Ordinal) && o.Name != "--version" && o.Name != "-h"))
            {
                Assert.False(string.IsNullOrWhiteSpace(option.Description), $"{command.Name} {option.Name}");
            }
        }
    }

    [Fact]
    public void Command_line_values_override_environment_variables_which_override_appsettings()
    {
        Environment.SetEnvironmentVariable("KOMMUNE_GroupId", "from-environment");
        Environment.SetEnvironmentVariable("KOMMUNE_Topics__Alerts", "env.alerts");
        try
        {
            var fromEnvironment = EngineHost.BindOptions(EngineHost.CreateBuilder(new Dictionary<string, string?>()).Configuration);
            var fromCommandLine = EngineHost.BindOptions(EngineHost.CreateBuilder(new Dictionary<string, string?> { ["GroupId"] = "from-command-line" }).Configuration);

            Assert.Equal("from-environment", fromEnvironment.GroupId);
            Assert.Equal("env.alerts", fromEnvironment.Topics.Alerts);
            Assert.Equal("kommune.sensor-events", fromEnvironment.Topics.SensorEvents);
            Assert.Equal(TimeSpan.FromSeconds(1), fromEnvironment.CommitInterval);
            Assert.Equal("from-command-line", fromCommandLine.GroupId);
        }
        finally
        {
            Environment.SetEnvironmentVariable("KOMMUNE_GroupId", null);
            Environment.SetEnvironmentVariable("KOMMUNE_Topics__Alerts", null);
        }
    }

    [Fact]
    public void Invalid_settings_are_refused_with_every_problem_named()
    {
        var options = new EngineOptions { BootstrapServers = "", MaxInFlightEvents = 0 };
        options.Topics.Alerts = options.Topics.SensorEvents;

        var error = Assert.Throws<ArgumentException>(options.Validate);

        Assert.Contains("BootstrapServers is required", error.Message, StringComparison.Ordinal);
        Assert.Contains("MaxInFlightEvents must be at least 1", error.Message, StringComparison.Ordinal);
        Assert.Contains("topic names under Topics must differ", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("exactly-once", ProcessingGuarantee.ExactlyOnce)]
    [InlineData("ExactlyOnce", ProcessingGuarantee.ExactlyOnce)]
    [InlineData("at-least-once", ProcessingGuarantee.AtLeastOnce)]
    public void The_processing_guarantee_takes_Kafka_Streams_spelling_and_the_enum_names(string value, ProcessingGuarantee expected)
    {
        var options = EngineHost.BindOptions(EngineHost.CreateBuilder(new Dictionary<string, string?> { ["ProcessingGuarantee"] = value }).Configuration);

        Assert.Equal(expected, options.ProcessingGuarantee);
    }

    [Fact]
    public void An_unknown_processing_guarantee_and_exactly_once_without_state_are_refused()
    {
        var unknown = Assert.Throws<ArgumentException>(() =>
            EngineHost.BindOptions(EngineHost.CreateBuilder(new Dictionary<string, string?> { ["ProcessingGuarantee"] = "at-most-once" }).Configuration));
        var withoutState = Assert.Throws<ArgumentException>(new EngineOptions
        {
            BootstrapServers = "127.0.0.1:9092",
            ProcessingGuarantee = ProcessingGuarantee.ExactlyOnce,
            PersistState = false,
        }.Validate);

        Assert.Contains("must be at-least-once or exactly-once, not 'at-most-once'", unknown.Message, StringComparison.Ordinal);
        Assert.Contains("exactly-once needs PersistState", withoutState.Message, StringComparison.Ordinal);
    }
}
