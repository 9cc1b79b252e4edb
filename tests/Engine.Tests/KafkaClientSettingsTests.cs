using System.Collections.Concurrent;
using Confluent.Kafka;
using Kommune.Connectors.Kafka;
using Kommune.Engine.Hosting;
using Kommune.Engine.Tests.Support;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>
/// Kafka security settings (Kafka:Common, Kafka:Consumer, Kafka:Producer) as the engine takes them: every client it
/// makes gets them, they bind from environment variables with librdkafka's dotted names, the keys the engine keeps to
/// itself are refused, secrets are masked in the start-up log, and a mechanism librdkafka refuses stops
/// <c>kommune run</c> at start with a message naming it. The embedded broker speaks no SASL or TLS, so no handshake is
/// tested: settings that are harmless on a plaintext broker stand in for them.
/// </summary>
[Collection(KafkaLanes.First)]
public sealed class KafkaClientSettingsTests(ITestOutputHelper output)
{
    private const string Secret = "hunter2-never-logged";

    /// <summary>Every Kafka client of one engine node, by the client.id the engine gives it, and what kind it is.</summary>
    private static readonly Dictionary<string, Type> EngineClients = new(StringComparer.Ordinal)
    {
        ["kommune-sink"] = typeof(ProducerConfig), // alerts, aggregates, dead letters
        ["kommune-sink-bulk"] = typeof(ProducerConfig), // repartition and state records
        ["kommune-engine"] = typeof(ConsumerConfig), // sensor events
        ["kommune-engine-repartition"] = typeof(ConsumerConfig),
        ["kommune-command-reader"] = typeof(ConsumerConfig), // operations centres' commands
        ["kommune-state-restore"] = typeof(ConsumerConfig),
        ["kommune-follower"] = typeof(ConsumerConfig), // the alert directory
        ["kommune-metadata"] = typeof(AdminClientConfig), // the start's lookups: the sensor-events, repartition and state topics
        ["kommune-settings-check"] = typeof(ConsumerConfig), // and a producer: the start-up check of the settings
    };

    [Fact]
    public async Task Every_client_the_engine_makes_gets_the_common_settings_and_those_of_its_kind()
    {
        using var bed = new KafkaTestBed(output, partitions: 2);
        var configs = new ConcurrentQueue<(string ClientId, ClientConfig Config)>();
        var allSeen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var engine = bed.CreateEngine(o =>
        {
            o.Kafka.Common["socket.keepalive.enable"] = "true";
            // A plaintext broker ignores SASL credentials: this one only has to reach the clients, and never the log.
            o.Kafka.Common["sasl.password"] = Secret;
            o.Kafka.Consumer["fetch.error.backoff.ms"] = "321";
            o.Kafka.Producer["retry.backoff.ms"] = "123";
        });
        engine.KafkaClients = engine.KafkaClients.Observed(config =>
        {
            configs.Enqueue((config.ClientId, config));
            if (EngineClients.Keys.All(id => configs.Any(c => c.ClientId == id)))
            {
                allSeen.TrySetResult();
            }
        });
        await using (engine)
        {
            await engine.StartAsync();
            await engine.Assigned.WaitAsync(KafkaTestBed.DefaultWait);
            // The state restorer's consumer is made while partitions are assigned, the command reader's on its thread.
            await allSeen.Task.WaitAsync(KafkaTestBed.DefaultWait);
        }

        foreach (var (clientId, config) in configs)
        {
            Assert.True(EngineClients.ContainsKey(clientId), $"a client the test does not know: {clientId}");
            Assert.Equal("true", config.Get("socket.keepalive.enable"));
            Assert.Equal(Secret, config.Get("sasl.password"));
            Assert.Equal(config is ConsumerConfig ? "321" : null, config.Get("fetch.error.backoff.ms"));
            Assert.Equal(config is ProducerConfig ? "123" : null, config.Get("retry.backoff.ms"));
        }

        foreach (var (clientId, kind) in EngineClients)
        {
            Assert.Contains(configs, c => c.ClientId == clientId && c.Config.GetType() == kind);
        }

        Assert.Contains(configs, c => c.ClientId == "kommune-settings-check" && c.Config is ProducerConfig);
        var logged = Assert.Single(bed.Logs.Lines, l => l.Contains("Kafka client settings from configuration", StringComparison.Ordinal));
        Assert.EndsWith(
            "(secrets masked): Common: sasl.password=***, socket.keepalive.enable=true; Consumer: fetch.error.backoff.ms=321; Producer: retry.backoff.ms=123",
            logged,
            StringComparison.Ordinal);
        Assert.DoesNotContain(bed.Logs.Lines, l => l.Contains(Secret, StringComparison.Ordinal));
    }

    [Fact]
    public void Settings_bind_from_environment_variables_with_librdkafkas_dotted_names_or_underscores()
    {
        // Harmless values: other tests of this process may build their hosts while these are set.
        var environment = new Dictionary<string, string>
        {
            ["KOMMUNE_Kafka__Common__socket.keepalive.enable"] = "true",
            ["KOMMUNE_Kafka__Consumer__FETCH_ERROR_BACKOFF_MS"] = "500",
            ["KOMMUNE_Kafka__Producer__compression.type"] = "none",
        };
        foreach (var (name, value) in environment)
        {
            Environment.SetEnvironmentVariable(name, value);
        }

        try
        {
            var options = EngineHost.BindOptions(EngineHost.CreateBuilder(new Dictionary<string, string?>
            {
                ["Kafka:Producer:retry.backoff.ms"] = "123", // as appsettings.json or the command line give it
            }).Configuration);
            var settings = options.ToKafkaClientSettings();

            Assert.Empty(settings.Problems());
            Assert.Equal(new Dictionary<string, string> { ["socket.keepalive.enable"] = "true" }, settings.Common);
            Assert.Equal(new Dictionary<string, string> { ["fetch.error.backoff.ms"] = "500" }, settings.Consumer);
            Assert.Equal(new Dictionary<string, string> { ["compression.type"] = "none", ["retry.backoff.ms"] = "123" }, settings.Producer.OrderBy(s => s.Key).ToDictionary());
        }
        finally
        {
            foreach (var name in environment.Keys)
            {
                Environment.SetEnvironmentVariable(name, null);
            }
        }
    }

    [Fact]
    public void A_key_the_engine_sets_itself_is_refused_at_start_with_every_other_problem()
    {
        var options = new EngineOptions { BootstrapServers = "b:9092", MaxInFlightEvents = 0 };
        options.Kafka.Producer["enable.idempotence"] = "false";
        options.Kafka.Consumer["isolation.level"] = "read_uncommitted";
        options.Kafka.Common["transactional.id"] = "mine";

        var error = Assert.Throws<ArgumentException>(options.Validate);

        Assert.Contains("MaxInFlightEvents must be at least 1", error.Message, StringComparison.Ordinal);
        Assert.Contains("Kafka:Producer:enable.idempotence is set by the engine and cannot be configured", error.Message, StringComparison.Ordinal);
        Assert.Contains("Kafka:Consumer:isolation.level is set by the engine and cannot be configured", error.Message, StringComparison.Ordinal);
        Assert.Contains("Kafka:Common:transactional.id is set by the engine and cannot be configured: use TransactionalId", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_readme_names_every_key_the_engine_refuses_and_every_part_of_a_secret_key()
    {
        var readme = File.ReadAllText(RepositoryFiles.Path("README.md"));
        var section = readme[readme.IndexOf("### Kafka security (TLS and SASL)", StringComparison.Ordinal)..];
        section = section[..section.IndexOf("\n## ", StringComparison.Ordinal)];

        foreach (var key in KafkaClientSettings.EngineControlledKeys.Keys.Except(["metadata.broker.list", "request.required.acks", "queue.buffering.max.ms"]))
        {
            Assert.Contains($"`{key}`", section, StringComparison.Ordinal);
        }

        foreach (var part in new[] { "password", "passphrase", "secret", "private.key", "ssl.key", "sasl.oauthbearer.config", "jaas" })
        {
            Assert.True(KafkaClientSettings.IsSecret("x." + part), part);
            Assert.Contains($"`{part}`", section, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("KOMMUNE_Kafka__Common__sasl.mechanism", "SCRAM-SHA-999",
        "Invalid Kafka client settings: librdkafka refused Kafka:Common with Kafka:Consumer (sasl.mechanism=SCRAM-SHA-999, sasl.password=***, sasl.username=kommune, security.protocol=SASL_SSL): Unsupported hash function: SCRAM-SHA-999")]
    [InlineData("KOMMUNE_Kafka__Producer__enable.idempotence", "false",
        "Invalid engine configuration: Kafka:Producer:enable.idempotence is set by the engine and cannot be configured: outputs must be neither lost nor duplicated by producer retries")]
    public async Task Run_with_a_setting_it_cannot_use_stops_at_start_with_one_message_naming_it_and_the_password_masked(string variable, string value, string message)
    {
        using var bed = new KafkaTestBed(output, partitions: 1);
        var environment = new Dictionary<string, string>
        {
            ["KOMMUNE_Kafka__Common__security.protocol"] = "SASL_SSL",
            ["KOMMUNE_Kafka__Common__sasl.mechanism"] = "SCRAM-SHA-512",
            ["KOMMUNE_Kafka__Common__sasl.username"] = "kommune",
            ["KOMMUNE_Kafka__Common__SASL_PASSWORD"] = Secret,
        };
        environment[variable] = value;
        using var engine = KommuneProcess.Start(environment, "run", "--bootstrap-servers", bed.BootstrapServers);

        await engine.WaitForExitAsync(KafkaTestBed.DefaultWait);

        output.WriteLine(engine.Output);
        Assert.Equal(2, engine.ExitCode);
        Assert.Contains(message, engine.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, engine.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(" at ", engine.Output, StringComparison.Ordinal); // a message, not a stack trace
    }
}
