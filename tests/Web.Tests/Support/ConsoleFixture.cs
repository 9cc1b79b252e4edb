using System.Collections.Concurrent;
using System.Text;
using Confluent.Kafka;
using Kommune.Connectors.Broker;
using Kommune.Connectors.Codecs;
using Kommune.Connectors.Kafka;
using Kommune.Engine.Tests.Support;
using Kommune.Rules.Model;
using Kommune.Web.Security;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Playwright;

namespace Kommune.Web.Tests.Support;

/// <summary>
/// One embedded Kafka broker, one engine (<c>kommune run</c>, a process of its own), one console and one headless
/// Debian chromium, shared by every browser and HTTP test of the console: started once, and ready only when a fall
/// produced to the sensor-events topic has come back through the engine to the console.
/// </summary>
public sealed class ConsoleFixture : IAsyncLifetime
{
    public const string Operator = "kari";
    public const string OperatorName = "nurse Kari";
    public const string Viewer = "vera";
    public const string Password = "correct horse battery";
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    private readonly string _folder = Directory.CreateTempSubdirectory("kommune-console-tests-").FullName;
    private readonly ConcurrentQueue<TopicRecord> _acks = new();
    private readonly ConcurrentQueue<TopicRecord> _alerts = new();
    private KommuneProcess? _engine;
    private KafkaTopicFollower? _follower;
    private IProducer<byte[], byte[]>? _producer;
    private IPlaywright? _playwright;

    public EmbeddedKafkaCluster Cluster { get; private set; } = null!;

    public KafkaTopics Topics { get; } = new();

    public ConsoleServer Console { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    public string UsersFile => Path.Combine(_folder, "users.json");

    public string AuditLogPath => Path.Combine(_folder, "audit.jsonl");

    public string EngineOutput => _engine?.Output ?? "";

    /// <summary>Where tests save screenshots: KOMMUNE_SCREENSHOTS (docs/images to refresh the README's), or screenshots/ beside the tests.</summary>
    public static string ScreenshotFolder =>
        Environment.GetEnvironmentVariable("KOMMUNE_SCREENSHOTS") is { Length: > 0 } folder ? folder : Path.Combine(AppContext.BaseDirectory, "screenshots");

    public string BaseUrl => Console.Address.ToString().TrimEnd('/');

    /// <summary>Every record read so far from the acks topic (commands).</summary>
    public IReadOnlyCollection<TopicRecord> Acks => _acks;

    /// <summary>Every record read so far from the alerts topic.</summary>
    public IReadOnlyCollection<TopicRecord> Alerts => _alerts;

    public async Task InitializeAsync()
    {
        Cluster = EmbeddedKafkaCluster.Start(1);
        foreach (var topic in Topics.All)
        {
            // One partition: the citizens' test drives event time with its readings (a partition without them would hold it back).
            Cluster.CreateTopic(topic, partitions: 1);
        }

        Security.UsersFile.AddOrReplace(UsersFile, Operator, OperatorName, [Security.UsersFile.OperatorRole], Password);
        Security.UsersFile.AddOrReplace(UsersFile, Viewer, null, [Security.UsersFile.ViewerRole], Password);
        var rules = Path.Combine(_folder, "rules.json");
        await File.WriteAllTextAsync(rules, """
            { "rules": [
              { "name": "fall-detection", "rule": "fall-detection", "parameters": { "t1": "3s", "t2": "3s" } },
              { "name": "congestion", "rule": "congestion", "parameters": { "raiseAfter": 1 } },
              { "name": "congestion-area", "rule": "congestion-area", "parameters": { "raiseAfter": 1 } },
              { "name": "parking", "rule": "parking" }
            ] }
            """);
        // Events of the citizens' test are minutes old while falls are stamped now: none of them is late.
        _engine = KommuneProcess.Start(
            new Dictionary<string, string> { ["KOMMUNE_AllowedLateness"] = "01:00:00", ["KOMMUNE_LogFormat"] = "text" },
            "run", "-b", Cluster.BootstrapServers, "--rules", rules);
        _producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig { BootstrapServers = Cluster.BootstrapServers, LingerMs = 0, SocketNagleDisable = true })
            .SetLogHandler((_, _) => { }).Build();
        _follower = new KafkaTopicFollower(Cluster.BootstrapServers, KafkaClientSettings.None, [Topics.Acks, Topics.Alerts], r => (r.Topic == Topics.Acks ? _acks : _alerts).Enqueue(r), NullLogger.Instance);
        _follower.Start();
        Console = await StartConsoleAsync(o =>
        {
            o.LoginAttemptsPerMinute = 100;
            o.PublicCacheDuration = TimeSpan.FromSeconds(1);
            o.PublicRequestsPerMinute = 1_000;
        });
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = "/usr/bin/chromium",
            Headless = true,
            // As root on a CI machine, offline: no sandbox, no GPU, no background traffic. Playwright gives it a fresh profile.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });

        // Ready when the whole path works: a fall through the engine to the console.
        var warmUp = Fall("warm-up-0", "warm-up");
        Produce(warmUp);
        await WaitUntilAsync(() => Console.Board.IsOpen(AlertId(warmUp)), () => "The warm-up fall never reached the console. Engine output:\n" + EngineOutput);
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }

        _playwright?.Dispose();
        if (Console is not null)
        {
            await Console.DisposeAsync();
        }

        _follower?.Dispose();
        _producer?.Dispose();
        if (_engine is not null)
        {
            await _engine.StopAsync("TERM", Wait);
            _engine.Dispose();
        }

        Cluster?.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    /// <summary>A console of its own on this broker, with the users file and settings adjusted by <paramref name="configure"/>.</summary>
    public Task<ConsoleServer> StartConsoleAsync(Action<ConsoleOptions>? configure = null, Microsoft.Extensions.Configuration.IConfiguration? kestrel = null)
    {
        var options = new ConsoleOptions { Urls = "http://127.0.0.1:0", UsersFile = UsersFile, AuditLog = AuditLogPath, EphemeralKeys = true };
        configure?.Invoke(options);
        return ConsoleServer.StartAsync(options, new ConsoleKafka(Cluster.BootstrapServers, Topics, KafkaClientSettings.None), NullLoggerFactory.Instance, kestrel);
    }

    /// <summary>A fall event stamped now (or at <paramref name="at"/>), with values the page must show as text.</summary>
    public static SensorEvent Fall(string sensorId, string areaId, DateTimeOffset? at = null, IReadOnlyDictionary<string, SensorValue>? values = null) =>
        new(sensorId, areaId, SensorTypes.Fall, at ?? DateTimeOffset.UtcNow, values ?? new Dictionary<string, SensorValue> { ["confidence"] = 0.96, ["posture"] = "lying" });

    public static string AlertId(SensorEvent fall) => $"fall-detection:{fall.SensorId}:{fall.Timestamp.ToUnixTimeMilliseconds()}";

    /// <summary>Produces one sensor event and waits until the broker has it.</summary>
    public void Produce(SensorEvent e)
    {
        _producer!.Produce(Topics.SensorEvents, new Message<byte[], byte[]> { Key = Encoding.UTF8.GetBytes(e.SensorId), Value = SensorEventEncoder.Encode(e) });
        _producer.Flush(Wait);
    }

    /// <summary>Produces many events and waits until the broker has them all.</summary>
    public void ProduceAll(IEnumerable<SensorEvent> events)
    {
        foreach (var e in events)
        {
            _producer!.Produce(Topics.SensorEvents, new Message<byte[], byte[]> { Key = Encoding.UTF8.GetBytes(e.SensorId), Value = SensorEventEncoder.Encode(e) });
        }

        _producer!.Flush(Wait);
    }

    /// <summary>A logged-in page in a fresh browser context (its own cookies) of the given size and locale; dispose its context when done.</summary>
    public async Task<IPage> LoginAsync(string user = Operator, string locale = "en-GB", int width = 1440, int height = 900)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions { Locale = locale, ViewportSize = new ViewportSize { Width = width, Height = height } });
        context.SetDefaultTimeout((float)Wait.TotalMilliseconds);
        var page = await context.NewPageAsync();
        await page.GotoAsync(BaseUrl + "/");
        await page.FillAsync("#userName", user);
        await page.FillAsync("#password", Password);
        await page.ClickAsync("#login");
        await page.Locator("#connection.live").WaitForAsync();
        return page;
    }

    /// <summary>Waits (a bounded poll on data) until <paramref name="condition"/> holds.</summary>
    public static async Task WaitUntilAsync(Func<bool> condition, Func<string>? explain = null)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException(explain?.Invoke() ?? "The condition did not hold within the wait.");
            }

            await Task.Delay(20);
        }
    }

    /// <summary>The alert records read so far for <paramref name="alertId"/>, decoded, in order.</summary>
    public List<Alert> AlertRecords(string alertId) =>
        [.. _alerts.Where(r => r.Key is not null && Encoding.UTF8.GetString(r.Key) == alertId)
            .Select(r => OutputDecoder.TryDecodeAlert(r.Value, out var a, out _) ? a! : throw new InvalidDataException("unreadable alert"))];
}

[CollectionDefinition(Name)]
public sealed class SharedConsole : ICollectionFixture<ConsoleFixture>
{
    /// <summary>The tests that share the one broker, engine, console and browser.</summary>
    public const string Name = "console";
}
