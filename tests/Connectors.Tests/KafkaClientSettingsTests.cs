using Confluent.Kafka;
using Kommune.Connectors.Kafka;

namespace Kommune.Connectors.Tests;

/// <summary>
/// librdkafka settings from configuration: which client gets which section, which keys the engine keeps to itself,
/// that secrets never show, and that librdkafka's refusals come out as one clear message. No broker is needed: a client
/// is built (which is when librdkafka checks its settings) and disposed at once.
/// </summary>
public sealed class KafkaClientSettingsTests
{
    /// <summary>Nothing listens here; clients built against it only try to connect in the background.</summary>
    private const string NoBroker = "127.0.0.1:9";

    private static Dictionary<string, string?> Settings(params (string Key, string Value)[] settings) =>
        settings.ToDictionary(s => s.Key, s => (string?)s.Value);

    [Fact]
    public void Consumers_get_common_then_consumer_settings_producers_common_then_producer_settings_admin_clients_common_only()
    {
        var settings = new KafkaClientSettings(
            common: Settings(("security.protocol", "SASL_SSL"), ("socket.timeout.ms", "1000")),
            consumer: Settings(("socket.timeout.ms", "2000"), ("fetch.min.bytes", "10")),
            producer: Settings(("compression.type", "zstd")));

        var consumer = settings.ApplyTo(new ConsumerConfig { BootstrapServers = NoBroker, ClientId = "c" });
        var producer = settings.ApplyTo(new ProducerConfig { BootstrapServers = NoBroker, ClientId = "p" });
        var admin = settings.ApplyTo(new AdminClientConfig { BootstrapServers = NoBroker });

        Assert.Equal("SASL_SSL", consumer.Get("security.protocol"));
        Assert.Equal("2000", consumer.Get("socket.timeout.ms"));
        Assert.Equal("10", consumer.Get("fetch.min.bytes"));
        Assert.Null(consumer.Get("compression.type"));
        Assert.Equal("c", consumer.ClientId); // the engine's own settings stay

        Assert.Equal("SASL_SSL", producer.Get("security.protocol"));
        Assert.Equal("1000", producer.Get("socket.timeout.ms"));
        Assert.Equal("zstd", producer.Get("compression.type"));
        Assert.Null(producer.Get("fetch.min.bytes"));

        Assert.Equal("SASL_SSL", admin.Get("security.protocol"));
        Assert.Equal("1000", admin.Get("socket.timeout.ms"));
        Assert.Null(admin.Get("fetch.min.bytes"));
        Assert.Null(admin.Get("compression.type"));
    }

    [Fact]
    public void Keys_are_read_with_underscores_as_dots_and_in_any_case_as_an_environment_variable_spells_them()
    {
        var settings = new KafkaClientSettings(common: Settings(("SASL_PASSWORD", "pw"), ("Security_Protocol", "SASL_SSL")));

        Assert.Empty(settings.Problems());
        Assert.Equal("pw", settings.Common["sasl.password"]);
        Assert.Equal("SASL_SSL", settings.Common["security.protocol"]);
    }

    [Theory]
    [InlineData("common", "enable.idempotence", "outputs must be neither lost nor duplicated")]
    [InlineData("producer", "transactional.id", "use TransactionalId")]
    [InlineData("producer", "acks", "acks=all")]
    [InlineData("consumer", "group.id", "GroupId")]
    [InlineData("consumer", "enable.auto.commit", "commits an offset only once")]
    [InlineData("consumer", "isolation.level", "committed records only")]
    [InlineData("consumer", "partition.assignment.strategy", "cooperative-sticky")]
    [InlineData("common", "BOOTSTRAP_SERVERS", "use BootstrapServers")]
    [InlineData("producer", "dotnet.producer.enable.delivery.reports", "the .NET client's own settings")]
    public void A_key_the_engine_sets_itself_is_refused_naming_the_section_the_key_and_why(string section, string key, string why)
    {
        var given = Settings((key, "x"));
        var settings = section switch
        {
            "common" => new KafkaClientSettings(common: given),
            "consumer" => new KafkaClientSettings(consumer: given),
            _ => new KafkaClientSettings(producer: given),
        };

        var problem = Assert.Single(settings.Problems());
        var name = key.Replace('_', '.').ToLowerInvariant();
        Assert.StartsWith($"Kafka:{char.ToUpperInvariant(section[0])}{section[1..]}:{name} is set by the engine and cannot be configured", problem, StringComparison.Ordinal);
        Assert.Contains(why, problem, StringComparison.Ordinal);
        // A refused key never reaches a client.
        Assert.Null(settings.ApplyTo(new ProducerConfig()).Get(name));
        Assert.Null(settings.ApplyTo(new ConsumerConfig()).Get(name));
    }

    [Fact]
    public void An_empty_value_and_a_key_given_twice_in_two_spellings_are_problems()
    {
        var settings = new KafkaClientSettings(common: Settings(("sasl.password", ""), ("sasl.username", "a"), ("SASL_USERNAME", "b")));

        Assert.Equal(2, settings.Problems().Count);
        Assert.Contains(settings.Problems(), p => p.StartsWith("Kafka:Common:sasl.password is empty", StringComparison.Ordinal));
        Assert.Contains(settings.Problems(), p => p.StartsWith("Kafka:Common:sasl.username is given twice", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("sasl.password", true)]
    [InlineData("SASL_PASSWORD", true)]
    [InlineData("ssl.key.password", true)]
    [InlineData("ssl.key.pem", true)]
    [InlineData("ssl.keystore.password", true)]
    [InlineData("sasl.oauthbearer.client.secret", true)]
    [InlineData("sasl.oauthbearer.config", true)]
    [InlineData("sasl.oauthbearer.assertion.private.key.passphrase", true)]
    [InlineData("sasl.username", false)]
    [InlineData("sasl.mechanism", false)]
    [InlineData("ssl.ca.location", false)]
    [InlineData("sasl.oauthbearer.token.endpoint.url", false)]
    public void Secrets_are_recognised_by_their_key(string key, bool secret) =>
        Assert.Equal(secret, KafkaClientSettings.IsSecret(key));

    [Fact]
    public void The_text_to_log_masks_every_secret_and_shows_the_rest()
    {
        var settings = new KafkaClientSettings(
            common: Settings(("security.protocol", "SASL_SSL"), ("sasl.mechanism", "SCRAM-SHA-512"), ("sasl.username", "kommune"), ("sasl.password", "hunter2-secret")),
            consumer: Settings(("ssl.key.pem", "-----BEGIN PRIVATE KEY-----abc")),
            producer: Settings(("sasl.oauthbearer.client.secret", "oauth-secret")));

        var text = settings.ToString();

        Assert.Equal(
            "Common: sasl.mechanism=SCRAM-SHA-512, sasl.password=***, sasl.username=kommune, security.protocol=SASL_SSL; " +
            "Consumer: ssl.key.pem=***; Producer: sasl.oauthbearer.client.secret=***",
            text);
        Assert.Equal("none", KafkaClientSettings.None.ToString());
    }

    [Fact]
    public void Settings_librdkafka_accepts_pass_the_check()
    {
        var settings = new KafkaClientSettings(common: Settings(
            ("security.protocol", "SASL_SSL"), ("sasl.mechanism", "SCRAM-SHA-512"), ("sasl.username", "kommune"), ("sasl.password", "pw")));

        settings.ThrowIfRefusedByClient(NoBroker);
        KafkaClientSettings.None.ThrowIfRefusedByClient(NoBroker);
    }

    [Theory]
    [InlineData("sasl.mechanism", "SCRAM-SHA-999", "Unsupported hash function: SCRAM-SHA-999")]
    [InlineData("security.protocol", "TLS", "Invalid value \"TLS\" for configuration property \"security.protocol\"")]
    [InlineData("no.such.property", "1", "No such configuration property: \"no.such.property\"")]
    public void A_setting_librdkafka_refuses_fails_the_check_with_its_message_and_the_settings_masked(string key, string value, string message)
    {
        var common = Settings(("security.protocol", "SASL_SSL"), ("sasl.mechanism", "SCRAM-SHA-512"), ("sasl.username", "kommune"), ("sasl.password", "hunter2"));
        common[key] = value;
        var settings = new KafkaClientSettings(common: common);

        var error = Assert.Throws<ArgumentException>(() => settings.ThrowIfRefusedByClient(NoBroker));

        Assert.StartsWith("Invalid Kafka client settings: librdkafka refused Kafka:Common with Kafka:Consumer (", error.Message, StringComparison.Ordinal);
        Assert.Contains($"{key}={value}", error.Message, StringComparison.Ordinal);
        Assert.Contains("): " + message, error.Message, StringComparison.Ordinal);
        Assert.Contains("sasl.password=***", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SASL_without_credentials_fails_the_check_and_says_what_is_missing()
    {
        var settings = new KafkaClientSettings(common: Settings(("security.protocol", "SASL_SSL"), ("sasl.mechanism", "SCRAM-SHA-512")));

        var error = Assert.Throws<ArgumentException>(() => settings.ThrowIfRefusedByClient(NoBroker));

        Assert.Contains("sasl.mechanism=SCRAM-SHA-512, security.protocol=SASL_SSL", error.Message, StringComparison.Ordinal);
        Assert.EndsWith("sasl.username and sasl.password must be set", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_producer_setting_librdkafka_refuses_is_named_with_the_producer_section()
    {
        var settings = new KafkaClientSettings(producer: Settings(("compression.type", "brotli")));

        var error = Assert.Throws<ArgumentException>(() => settings.ThrowIfRefusedByClient(NoBroker));

        Assert.Contains("Kafka:Common with Kafka:Producer (compression.type=brotli)", error.Message, StringComparison.Ordinal);
    }
}
