using System.CommandLine;
using System.Globalization;
using Kommune.Connectors.Simulation;
using Kommune.Engine.Hosting;
using Kommune.Engine.Plugins;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kommune.Engine.Cli;

/// <summary>The <c>kommune</c> command: demo (the default), broker, run and simulate.</summary>
internal static class KommuneCommandLine
{
    private static readonly Option<string> BootstrapServers = new("--bootstrap-servers", "-b")
    {
        Description = "Kafka bootstrap servers, host:port[,host:port...] (config key BootstrapServers).",
        Required = true,
    };

    private static readonly Option<string?> GroupId = new("--group-id")
    {
        Description = "Consumer group of the engine nodes (config key GroupId; default kommune-engine).",
    };

    private static readonly Option<int?> MaxInFlight = new("--max-in-flight")
    {
        Description = "Most events in flight before the consumer pauses (config key MaxInFlightEvents; default 10000).",
    };

    private static readonly Option<int?> MetricsPort = new("--metrics-port")
    {
        Description = "Port of /metrics, /healthz and /readyz (config key MetricsPort; default 9464; 0 any free port; -1 none).",
    };

    private static readonly Option<string?> LogFormat = new("--log-format")
    {
        Description = "json (one object per line; the default of run) or text (the default of the demo) (config key LogFormat).",
    };

    private static readonly Option<string?> ProcessingGuarantee = new("--processing-guarantee")
    {
        Description = "at-least-once (default) or exactly-once: outputs, state and offsets in one Kafka transaction per commit interval (config key ProcessingGuarantee).",
    };

    private static readonly Option<string?> TransactionalId = new("--transactional-id")
    {
        Description = "Exactly-once mode: this node's transactional.id, stable across restarts, unique per node (config key TransactionalId; default group id and node id).",
    };

    private static readonly Option<string?> NodeId = new("--node-id")
    {
        Description = "This node's identity, stable across its restarts and unique among the nodes: its static group membership (group.instance.id) and transactional.id (config key NodeId; default the host name). Several nodes on one host need one each.",
    };

    private static readonly Option<string?> RulesFile = new("--rules")
    {
        Description = "Rules file (JSON) binding rules to sensor types and areas (config key RulesFile; default: every built-in municipal rule with its defaults, or the demo's demo-rules.json).",
    };

    private static readonly Option<string?> PluginsFolder = new("--plugins")
    {
        Description = "Folder of rule plugins, one subfolder per plugin (config key PluginsFolder).",
    };

    private static readonly Option<string?> AgainstRulesFile = new("--against")
    {
        Description = "The rules file running now: also print what reloading from it to --rules would do to each binding's state (kept, kept with new parameters, migrated, reset, removed, added).",
    };

    private static readonly Option<string?> AgainstPluginsFolder = new("--against-plugins")
    {
        Description = "The plugins folder running now, when it is not --plugins (to see what new plugin builds would do).",
    };

    private static readonly Option<bool> StopWhenInputCloses = new("--stop-when-input-closes")
    {
        Description = "Stop gracefully, as on SIGTERM, when standard input ends: for a supervising process that runs this node through a pipe (kommune demo --nodes), so the node stops with it even when it is killed.",
    };

    private static readonly Option<string> ReplayFile = new("--file")
    {
        Description = "CSV series to replay: a header line, then timestamp,value lines (the NAB format).",
        Required = true,
    };

    private static readonly Option<string?> ReplaySensor = new("--sensor-id")
    {
        Description = "The sensor id the readings are sent as (default: the file's name).",
    };

    private static readonly Option<string> ReplayArea = new("--area")
    {
        Description = "The area id of the sensor.",
        DefaultValueFactory = _ => "replay",
    };

    private static readonly Option<string> ReplayType = new("--type")
    {
        Description = "The sensor type (traffic, energy, or any other).",
        DefaultValueFactory = _ => "traffic",
    };

    private static readonly Option<string> ReplayValue = new("--value")
    {
        Description = "The value name each reading is sent under (speed, occupancy, kw, temperature, ...).",
        DefaultValueFactory = _ => "value",
    };

    private static readonly Option<double> Speedup = new("--speedup")
    {
        Description = "Time compression: 3600 sends an hour of readings per second; 0 sends as fast as possible.",
        DefaultValueFactory = _ => 0,
    };

    private static readonly Option<int> Sensors = new("--sensors")
    {
        Description = "Number of simulated sensors.",
        DefaultValueFactory = _ => 1_000,
    };

    private static readonly Option<int> Areas = new("--areas")
    {
        Description = "Number of areas the sensors are spread over.",
        DefaultValueFactory = _ => 20,
    };

    private static readonly Option<double> Rate = new("--rate")
    {
        Description = "Events per second the simulator produces.",
        DefaultValueFactory = _ => 200,
    };

    private static readonly Option<double> FallsPerMinute = new("--falls-per-minute")
    {
        Description = "Expected falls per minute across the simulated network.",
        DefaultValueFactory = _ => 6,
    };

    private static readonly Option<int> Partitions = new("--partitions")
    {
        Description = "Partitions per topic on the embedded broker (it keeps about 5 MiB per partition).",
        DefaultValueFactory = _ => 12,
    };

    private static readonly Option<double?> Duration = new("--duration")
    {
        Description = "Stop the demo after this many seconds (default: run until Ctrl+C).",
    };

    private static readonly Option<int> Nodes = new("--nodes")
    {
        Description = $"Engine nodes: 1 runs the engine in the demo's process; more run each as a process of its own (kommune run) in one consumer group, sharing the partitions; stop one with kill -TERM <pid> and the others take over (1 to {MaxDemoNodes}).",
        DefaultValueFactory = _ => 1,
    };

    private static readonly Option<int> Brokers = new("--brokers")
    {
        Description = "Number of brokers in the embedded cluster.",
        DefaultValueFactory = _ => 1,
    };

    private static readonly Option<string?> BootstrapFile = new("--bootstrap-file")
    {
        Description = "Also write the bootstrap servers to this file, for scripts.",
    };

    private static readonly Option<long> Count = new("--count")
    {
        Description = "Stop after this many events (default: run until Ctrl+C).",
        DefaultValueFactory = _ => long.MaxValue,
    };

    /// <summary>The most engine nodes the demo starts: each is a process with its own runtime, on one machine.</summary>
    private const int MaxDemoNodes = 16;

    /// <summary>The demo nodes' session timeout (unless KOMMUNE_SessionTimeout says otherwise): rebalances on the embedded broker take about this long.</summary>
    private const string DemoNodeSessionTimeout = "00:00:06";

    /// <summary>How long the embedded broker waits for the demo's nodes to join the group before it first assigns partitions: Kafka's default.</summary>
    private static readonly TimeSpan DemoNodesJoinDelay = TimeSpan.FromSeconds(3);

    static KommuneCommandLine()
    {
        Nodes.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < 1 or > MaxDemoNodes)
            {
                r.AddError($"--nodes must be from 1 to {MaxDemoNodes}, not {r.GetValueOrDefault<int>()}.");
            }
        });
        MustBePositive(Sensors);
        MustBePositive(Areas);
        MustBePositive(Rate);
        MustBePositive(Partitions);
        MustBePositive(Brokers);
        MustBePositive(Count);
        MustBePositive(Duration);
        MustBePositive(MaxInFlight);
        Speedup.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<double>() is < 0 or double.NaN)
            {
                r.AddError("--speedup must be zero (as fast as possible) or more.");
            }
        });
        FallsPerMinute.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<double>() is < 0 or double.NaN)
            {
                r.AddError("--falls-per-minute must be zero or more.");
            }
        });
    }

    public static RootCommand Build()
    {
        var demo = new Command("demo", "Start the embedded broker, a simulated sensor network and the engine; print alerts as they happen.")
        {
            Sensors, Areas, Rate, FallsPerMinute, Partitions, Duration, Nodes, MaxInFlight, RulesFile, PluginsFolder, MetricsPort, LogFormat,
        };
        demo.SetAction(RunDemoAsync);

        var broker = new Command("broker", "Start only the embedded Kafka broker with the engine's topics, print its bootstrap servers, and run until stopped.")
        {
            Brokers, Partitions, BootstrapFile,
        };
        broker.SetAction(RunBrokerAsync);

        var run = new Command("run", "Run the engine against a Kafka cluster until stopped (Ctrl+C or SIGTERM stop it gracefully).")
        {
            BootstrapServers, GroupId, NodeId, MaxInFlight, ProcessingGuarantee, TransactionalId, RulesFile, PluginsFolder, MetricsPort, LogFormat, StopWhenInputCloses,
        };
        ProcessingGuarantee.AcceptOnlyFromAmong("at-least-once", "exactly-once");
        LogFormat.AcceptOnlyFromAmong("json", "text");
        run.SetAction(RunEngineAsync);

        var simulate = new Command("simulate", "Produce simulated sensor events into the sensor-events topic.")
        {
            BootstrapServers, Sensors, Areas, Rate, FallsPerMinute, Count,
        };
        simulate.SetAction(RunSimulatorAsync);

        var replay = new Command("replay", "Stream a recorded CSV series into the sensor-events topic as one sensor's events, shifted to end now.")
        {
            BootstrapServers, ReplayFile, ReplaySensor, ReplayArea, ReplayType, ReplayValue, Speedup,
        };
        replay.SetAction(RunReplayAsync);

        var checkRules = new Command(
            "check-rules",
            "Check a rules file and load its plugins without starting anything; print the bindings or every mistake, and with --against the reload's plan.")
        {
            RulesFile, PluginsFolder, AgainstRulesFile, AgainstPluginsFolder,
        };
        checkRules.SetAction(CheckRules);

        var root = new RootCommand(
            "Smart Kommune Engine: turns municipal sensor streams (fall sensors, road and parking sensors, energy meters) " +
            "into alerts and aggregates, Kafka in and Kafka out. Without a command it runs the demo.")
        {
            demo, broker, run, simulate, replay, checkRules, ConsoleCommandLine.Build(BootstrapServers),
            Sensors, Areas, Rate, FallsPerMinute, Partitions, Duration, Nodes, MaxInFlight, RulesFile, PluginsFolder, MetricsPort, LogFormat,
        };
        root.SetAction(RunDemoAsync);
        return root;
    }

    /// <summary>Parses and runs; the host, not the parser, handles Ctrl+C and SIGTERM.</summary>
    public static Task<int> InvokeAsync(string[] args) =>
        Build().Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });

    private static async Task<int> RunDemoAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        var partitions = parse.GetValue(Partitions);
        var nodes = parse.GetValue(Nodes);
        var probe = EngineHost.CreateBuilder(Overrides(parse));
        var options = EngineHost.BindOptions(probe.Configuration);
        // Several nodes that start together join the group's first generation together, as on Kafka (its
        // group.initial.rebalance.delay.ms), rather than one taking every partition and handing most over at once.
        using var cluster = BrokerService.StartCluster(1, partitions, options, nodes > 1 ? DemoNodesJoinDelay : null);
        Console.WriteLine($"Embedded Kafka broker on {cluster.BootstrapServers}");

        var overrides = Overrides(parse);
        overrides["BootstrapServers"] = cluster.BootstrapServers;
        if (!overrides.ContainsKey("RulesFile") && options.RulesFile is null)
        {
            overrides["RulesFile"] = DemoRulesFile;
        }

        Console.WriteLine($"Rules: {overrides.GetValueOrDefault("RulesFile") ?? options.RulesFile}");
        var builder = EngineHost.CreateBuilder(overrides);
        if (nodes > 1)
        {
            AddEngineNodes(builder, nodes, partitions);
        }
        else
        {
            builder.Services.AddSingleton<EngineService>();
            builder.Services.AddHostedService(sp => sp.GetRequiredService<EngineService>());
            builder.Services.AddSingleton<IDemoProgress, EngineProgress>();
        }

        builder.Services.AddSingleton(new DemoSettings(
            SimulatorFrom(parse, incidents: true), parse.GetValue(Duration) is { } seconds ? TimeSpan.FromSeconds(seconds) : null));
        builder.Services.AddHostedService<DemoService>();
        ConsoleCommandLine.AddDemoConsole(builder);
        return await RunHostAsync(builder, cancellationToken);
    }

    /// <summary>
    /// The demo's engine as <paramref name="nodes"/> processes of <c>kommune run</c> on the embedded broker, in the
    /// demo's consumer group, with the demo's rules, plugins and in-flight bound, each its own metrics port.
    /// </summary>
    private static void AddEngineNodes(HostApplicationBuilder builder, int nodes, int partitions)
    {
        var options = EngineHost.BindOptions(builder.Configuration);
        var run = new List<string> { "--bootstrap-servers", options.BootstrapServers, "--group-id", options.GroupId, "--log-format", "json" };
        run.AddRange(["--metrics-port", options.MetricsPort < 0 ? "-1" : "0"]);
        run.AddRange(["--max-in-flight", options.MaxInFlightEvents.ToString(CultureInfo.InvariantCulture)]);
        if (options.RulesFile is { } rules)
        {
            run.AddRange(["--rules", rules]);
        }

        if (options.PluginsFolder is { } plugins)
        {
            run.AddRange(["--plugins", plugins]);
        }

        // The embedded broker does not implement static membership (KIP-345): a node that stops would keep its
        // partitions until its session expires, and one that restarts would not get them back.
        var environment = new Dictionary<string, string>(StringComparer.Ordinal) { [EngineHost.EnvironmentPrefix + "StaticMembership"] = "false" };
        // It also waits a session timeout less a second for the members to rejoin before it assigns partitions again,
        // in every rebalance: with the default 10 s, a node that joins or leaves leaves partitions unowned for 9 s or more.
        // Much shorter, and a node still restoring the state of partitions it just took (seconds, on a busy machine)
        // misses that window and loses them again.
        if (Environment.GetEnvironmentVariable(EngineHost.EnvironmentPrefix + "SessionTimeout") is null)
        {
            environment[EngineHost.EnvironmentPrefix + "SessionTimeout"] = DemoNodeSessionTimeout;
        }

        builder.Services.AddSingleton(new EngineNodesSettings(nodes, partitions, run, environment));
        builder.Services.AddHostedService<EngineNodesService>();
        builder.Services.AddSingleton<IDemoProgress>(sp => new CommittedProgress(sp.GetRequiredService<EngineOptions>(), partitions));
    }

    private static async Task<int> RunBrokerAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        var builder = EngineHost.CreateBuilder(Overrides(parse));
        builder.Services.AddSingleton(new BrokerSettings(parse.GetValue(Brokers), parse.GetValue(Partitions), parse.GetValue(BootstrapFile)));
        builder.Services.AddHostedService<BrokerService>();
        return await RunHostAsync(builder, cancellationToken);
    }

    private static async Task<int> RunEngineAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        var builder = EngineHost.CreateBuilder(Overrides(parse), defaultLogFormat: "json");
        if (ProblemsOf(EngineHost.BindOptions(builder.Configuration)) is { } problems)
        {
            await parse.InvocationConfiguration.Error.WriteLineAsync(problems);
            return 2;
        }

        builder.Services.AddSingleton<EngineService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<EngineService>());
        if (parse.GetValue(StopWhenInputCloses))
        {
            builder.Services.AddHostedService<InputClosedStop>();
        }

        return await RunHostAsync(builder, cancellationToken);
    }

    /// <summary>
    /// What is wrong with the engine's settings, including what librdkafka refuses of the Kafka client settings (an
    /// unknown SASL mechanism, SASL without credentials); null when nothing is. Checked before the host starts, so a
    /// mistake is one message and exit code 2, not the host's start-up failure with its stack trace.
    /// </summary>
    private static string? ProblemsOf(EngineOptions options)
    {
        try
        {
            options.Validate();
            options.ToKafkaClientSettings().ThrowIfRefusedByClient(options.BootstrapServers);
            return null;
        }
        catch (ArgumentException e)
        {
            return e.Message;
        }
    }

    private static async Task<int> RunSimulatorAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        var builder = EngineHost.CreateBuilder(Overrides(parse));
        builder.Services.AddSingleton(new SimulateSettings(SimulatorFrom(parse), parse.GetValue(Count)));
        builder.Services.AddHostedService<SimulateService>();
        return await RunHostAsync(builder, cancellationToken);
    }

    private static async Task<int> RunReplayAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        var file = Path.GetFullPath(parse.GetValue(ReplayFile)!);
        if (!File.Exists(file))
        {
            await parse.InvocationConfiguration.Error.WriteLineAsync($"--file: no such file {file}");
            return 2;
        }

        var builder = EngineHost.CreateBuilder(Overrides(parse));
        builder.Services.AddSingleton(new ReplaySettings(
            file,
            parse.GetValue(ReplaySensor) ?? Path.GetFileNameWithoutExtension(file),
            parse.GetValue(ReplayArea)!,
            parse.GetValue(ReplayType)!,
            parse.GetValue(ReplayValue)!,
            parse.GetValue(Speedup)));
        builder.Services.AddHostedService<ReplayService>();
        return await RunHostAsync(builder, cancellationToken);
    }

    private static int CheckRules(ParseResult parse)
    {
        using var loggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning));
        using var loader = new RuleLoader(
            parse.GetValue(RulesFile) is { } file ? Path.GetFullPath(file) : null,
            parse.GetValue(PluginsFolder) is { } folder ? Path.GetFullPath(folder) : null,
            loggerFactory.CreateLogger<RuleLoader>());
        var output = parse.InvocationConfiguration.Output;
        try
        {
            var loaded = loader.Load();
            foreach (var binding in loaded.Rules.Bindings)
            {
                var types = binding.SensorTypes.Count == 0 ? "any type" : string.Join(", ", binding.SensorTypes);
                var areas = binding.Areas.Count == 0 ? "every area" : string.Join(", ", binding.Areas);
                output.WriteLine($"ok  {binding.Name}: {binding.Rule.GetType().FullName}, {binding.Scope} scope, {types}, {areas}");
            }

            foreach (var problem in loaded.Problems)
            {
                output.WriteLine($"problem  {problem}");
            }

            if (parse.GetValue(AgainstRulesFile) is { } running
                && ReloadPlanText.Write(output, parse.InvocationConfiguration.Error, running, parse.GetValue(AgainstPluginsFolder) ?? parse.GetValue(PluginsFolder), loaded.Rules, loggerFactory) is { } failed)
            {
                return failed;
            }

            return loaded.Problems.Count == 0 ? 0 : 1;
        }
        catch (RulesFileException e)
        {
            parse.InvocationConfiguration.Error.WriteLine(e.Message);
            return 2;
        }
    }

    internal static async Task<int> RunHostAsync(HostApplicationBuilder builder, CancellationToken cancellationToken)
    {
        try
        {
            using var host = builder.Build();
            using var secondSignal = new SecondStopSignal();
            await host.RunAsync(cancellationToken);
            return Environment.ExitCode;
        }
        catch (ArgumentException e)
        {
            await Console.Error.WriteLineAsync(e.Message);
            return 2;
        }
        catch (RulesFileException e)
        {
            await Console.Error.WriteLineAsync(e.Message);
            return 2;
        }
        catch (IOException e)
        {
            // The metrics endpoint's port is taken or cannot be bound: say so, rather than run unobserved.
            await Console.Error.WriteLineAsync(e.Message);
            return 2;
        }
    }

    private static void MustBePositive<T>(Option<T> option) => option.Validators.Add(r =>
    {
        var value = r.GetValueOrDefault<T>();
        if (value is not null && Convert.ToDouble(value, CultureInfo.InvariantCulture) is <= 0 or double.NaN)
        {
            r.AddError($"{option.Name} must be greater than zero, not {value}.");
        }
    });

    /// <summary>The rules the demo runs without --rules: every built-in family, with demo-short times.</summary>
    private static string DemoRulesFile => Path.Combine(AppContext.BaseDirectory, "demo-rules.json");

    private static SimulatorOptions SimulatorFrom(ParseResult parse, bool incidents = false) => new()
    {
        Incidents = incidents,
        Sensors = parse.GetValue(Sensors),
        Areas = parse.GetValue(Areas),
        EventsPerSecond = parse.GetValue(Rate),
        FallsPerMinute = parse.GetValue(FallsPerMinute),
    };

    /// <summary>The command-line values that override configuration, under their configuration keys.</summary>
    private static Dictionary<string, string?> Overrides(ParseResult parse)
    {
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        if (parse.GetResult(BootstrapServers) is not null)
        {
            values["BootstrapServers"] = parse.GetValue(BootstrapServers);
        }

        if (parse.GetResult(GroupId) is not null)
        {
            values["GroupId"] = parse.GetValue(GroupId);
        }

        if (parse.GetResult(ProcessingGuarantee) is not null)
        {
            values["ProcessingGuarantee"] = parse.GetValue(ProcessingGuarantee);
        }

        if (parse.GetResult(TransactionalId) is not null)
        {
            values["TransactionalId"] = parse.GetValue(TransactionalId);
        }

        if (parse.GetResult(NodeId) is not null)
        {
            values["NodeId"] = parse.GetValue(NodeId);
        }

        if (parse.GetValue(MetricsPort) is { } metricsPort)
        {
            values["MetricsPort"] = metricsPort.ToString(CultureInfo.InvariantCulture);
        }

        if (parse.GetValue(LogFormat) is { } logFormat)
        {
            values["LogFormat"] = logFormat;
        }

        if (parse.GetValue(MaxInFlight) is { } maxInFlight)
        {
            values["MaxInFlightEvents"] = maxInFlight.ToString(CultureInfo.InvariantCulture);
        }

        if (parse.GetValue(RulesFile) is { } rulesFile)
        {
            values["RulesFile"] = Path.GetFullPath(rulesFile);
        }

        if (parse.GetValue(PluginsFolder) is { } pluginsFolder)
        {
            values["PluginsFolder"] = Path.GetFullPath(pluginsFolder);
        }

        if (parse.GetResult(Partitions) is not null)
        {
            values["Partitions"] = parse.GetValue(Partitions).ToString(CultureInfo.InvariantCulture);
        }

        return values;
    }
}
