// The operations console measured in a real browser (Debian's headless chromium), against the embedded broker and
// kommune run: the time from a fall produced to its row on the page (p50, p99), and how the page copes with 5,000
// open alerts. Usage: dotnet run -c Release --project bench/Kommune.ConsoleBench -- [falls] [open alerts]
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Kommune.Connectors.Broker;
using Kommune.Connectors.Codecs;
using Kommune.Connectors.Kafka;
using Kommune.Engine.Tests.Support;
using Kommune.Rules.Model;
using Kommune.Web;
using Kommune.Web.Security;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Playwright;

var falls = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 100;
var openAlerts = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5_000;
var wait = TimeSpan.FromMinutes(2);
var folder = Directory.CreateTempSubdirectory("kommune-console-bench-").FullName;
var topics = new KafkaTopics();

using var cluster = EmbeddedKafkaCluster.Start(1);
foreach (var topic in topics.All)
{
    cluster.CreateTopic(topic, partitions: 4);
}

var rules = Path.Combine(folder, "rules.json");
// No escalation while measuring: every fall stays one raised record.
File.WriteAllText(rules, """{ "rules": [ { "name": "fall-detection", "rule": "fall-detection", "parameters": { "t1": "1h", "t2": "1h" } } ] }""");
using var engine = KommuneProcess.Start(new Dictionary<string, string> { ["KOMMUNE_LogFormat"] = "text" }, "run", "-b", cluster.BootstrapServers, "--rules", rules);
var users = Path.Combine(folder, "users.json");
UsersFile.AddOrReplace(users, "bench", "bench operator", [UsersFile.OperatorRole], "bench password");
await using var console = await ConsoleServer.StartAsync(
    new ConsoleOptions { Urls = "http://127.0.0.1:0", UsersFile = users, AuditLog = Path.Combine(folder, "audit.jsonl"), EphemeralKeys = true },
    new ConsoleKafka(cluster.BootstrapServers, topics, KafkaClientSettings.None),
    NullLoggerFactory.Instance);
using var producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers, LingerMs = 0, SocketNagleDisable = true })
    .SetLogHandler((_, _) => { }).Build();
using var playwright = await Playwright.CreateAsync();
await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
{
    ExecutablePath = "/usr/bin/chromium",
    Headless = true,
    Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});

// Warm up the whole path (engine, console, page) before measuring anything.
var page = await LoginAsync();
var warmUp = Fall("warm-up", "warm-up");
await ProduceAsync(warmUp);
await page.WaitForFunctionAsync("id => window.__seen && window.__seen[id]", Id(warmUp), new() { Timeout = (float)wait.TotalMilliseconds });
await ResolveAsync(page, Id(warmUp));

// 1. Latency: one fall at a time; its row's first appearance is stamped in the page by a MutationObserver (the
//    bench's, not the console's), against the wall clock of the produce call (same machine, same clock).
var latencies = new List<double>();
for (var i = 0; i < falls; i++)
{
    var fall = Fall($"latency-{i:D4}", $"area-{i % 20:D3}");
    var produced = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
    await ProduceAsync(fall);
    var seen = await page.WaitForFunctionAsync("id => window.__seen[id]", Id(fall), new() { Timeout = (float)wait.TotalMilliseconds, PollingInterval = 5 });
    latencies.Add(await seen.JsonValueAsync<double>() - produced);
    await ResolveAsync(page, Id(fall));
}

latencies.Sort();
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"fall produced -> row on the page, {falls} falls one at a time: p50 {Percentile(latencies, 0.50):F0} ms, p99 {Percentile(latencies, 0.99):F0} ms, max {latencies[^1]:F0} ms"));

// 2. 5,000 open alerts: the page's load, a filter change, a scroll, and a new fall's latency while they are open.
var load = Stopwatch.StartNew();
for (var i = 0; i < openAlerts; i++)
{
    var fall = Fall($"open-{i:D5}", $"area-{i % 50:D3}");
    producer.Produce(topics.SensorEvents, new Message<byte[], byte[]> { Key = Encoding.UTF8.GetBytes(fall.SensorId), Value = SensorEventEncoder.Encode(fall) });
}

producer.Flush(wait);
await page.WaitForFunctionAsync($"() => document.getElementById('open-count').textContent === '{openAlerts}'", null, new() { Timeout = (float)wait.TotalMilliseconds });
Console.WriteLine($"{openAlerts} falls produced at once -> all on the open page: {load.ElapsedMilliseconds} ms");

var fresh = await browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1440, Height = 900 } });
var second = await fresh.NewPageAsync();
await second.GotoAsync(console.Address + "login");
await second.FillAsync("#userName", "bench");
await second.FillAsync("#password", "bench password");
var opened = Stopwatch.StartNew();
await second.ClickAsync("#login");
await second.WaitForFunctionAsync($"() => document.getElementById('open-count').textContent === '{openAlerts}' && document.querySelectorAll('.list .row:not([hidden])').length > 10", null, new() { Timeout = (float)wait.TotalMilliseconds });
Console.WriteLine($"log in -> page with {openAlerts} open alerts rendered: {opened.ElapsedMilliseconds} ms (includes the login's PBKDF2 and the {openAlerts}-alert snapshot)");

var filter = new List<double>();
var scroll = new List<double>();
for (var i = 0; i < 20; i++)
{
    filter.Add(await second.EvaluateAsync<double>("""
        async area => {
          const select = document.getElementById('filter-area');
          const t0 = performance.now();
          select.value = select.value ? '' : area;
          select.dispatchEvent(new Event('change'));
          await new Promise(r => requestAnimationFrame(() => r()));
          document.body.offsetHeight;
          return performance.now() - t0;
        }
        """, "area-007"));
    scroll.Add(await second.EvaluateAsync<double>("""
        async i => {
          const list = document.getElementById('list');
          const t0 = performance.now();
          list.scrollTop = (i * 997 % 4000) * 44;
          list.dispatchEvent(new Event('scroll'));
          await new Promise(r => requestAnimationFrame(() => r()));
          document.body.offsetHeight;
          return performance.now() - t0;
        }
        """, i));
}

filter.Sort();
scroll.Sort();
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"with {openAlerts} open: filter change -> rendered p50 {Percentile(filter, 0.5):F1} ms, max {filter[^1]:F1} ms; scroll -> rendered p50 {Percentile(scroll, 0.5):F1} ms, max {scroll[^1]:F1} ms (each includes the wait for the next frame)"));

// New falls in an area of their own, filtered to, so each new row is in view among the 5,000 (the newest critical
// fall sorts last); the first one makes the area an option of the filter.
await Observe(second);
var first = Fall("busy-first", "area-busy");
await ProduceAsync(first);
await second.WaitForFunctionAsync("() => [...document.getElementById('filter-area').options].some(o => o.value === 'area-busy')", null, new() { Timeout = (float)wait.TotalMilliseconds });
await second.EvaluateAsync("() => { const s = document.getElementById('filter-area'); s.value = 'area-busy'; s.dispatchEvent(new Event('change')); }");
var busy = new List<double>();
for (var i = 0; i < 20; i++)
{
    var fall = Fall($"busy-{i:D3}", "area-busy");
    var produced = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
    await ProduceAsync(fall);
    var seen = await second.WaitForFunctionAsync("id => window.__seen[id]", Id(fall), new() { Timeout = (float)wait.TotalMilliseconds, PollingInterval = 5 });
    busy.Add(await seen.JsonValueAsync<double>() - produced);
}

busy.Sort();
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"with {openAlerts} open: fall produced -> row on the page p50 {Percentile(busy, 0.5):F0} ms, max {busy[^1]:F0} ms (20 falls)"));

await engine.StopAsync("TERM", wait);
Directory.Delete(folder, recursive: true);
return 0;

async Task<IPage> LoginAsync()
{
    var context = await browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1440, Height = 900 } });
    var p = await context.NewPageAsync();
    await p.GotoAsync(console.Address + "login");
    await p.FillAsync("#userName", "bench");
    await p.FillAsync("#password", "bench password");
    await p.ClickAsync("#login");
    await p.Locator("#connection.live").WaitForAsync(new() { Timeout = (float)wait.TotalMilliseconds });
    await Observe(p);
    return p;
}

// Stamps the first time each alert id is set on a visible row.
static Task Observe(IPage p) => p.EvaluateAsync("""
    () => {
      window.__seen = window.__seen || {};
      const stamp = row => { const id = row.dataset && row.dataset.alertId; if (id && !row.hidden && !window.__seen[id]) window.__seen[id] = Date.now(); };
      new MutationObserver(records => {
        for (const r of records) {
          if (r.type === 'attributes') stamp(r.target);
          for (const n of r.addedNodes || []) if (n.classList && n.classList.contains('row')) stamp(n);
        }
      }).observe(document.getElementById('list'), { subtree: true, childList: true, attributes: true, attributeFilter: ['data-alert-id', 'hidden'] });
    }
    """);

async Task ProduceAsync(SensorEvent fall) =>
    await producer.ProduceAsync(topics.SensorEvents, new Message<byte[], byte[]> { Key = Encoding.UTF8.GetBytes(fall.SensorId), Value = SensorEventEncoder.Encode(fall) });

async Task ResolveAsync(IPage p, string alertId)
{
    await producer.ProduceAsync(topics.Acks, new Message<byte[], byte[]>
    {
        Key = Encoding.UTF8.GetBytes(alertId),
        Value = AlertCommandEncoder.Encode(new AlertCommand(alertId, AlertAction.Resolve, "bench", DateTimeOffset.UtcNow)),
    });
    await p.WaitForFunctionAsync("id => ![...document.querySelectorAll('.list .row:not([hidden])')].some(r => r.dataset.alertId === id)", alertId, new() { Timeout = (float)wait.TotalMilliseconds });
}

static SensorEvent Fall(string sensorId, string areaId) =>
    new(sensorId, areaId, SensorTypes.Fall, DateTimeOffset.UtcNow, new Dictionary<string, SensorValue> { ["confidence"] = 0.95, ["posture"] = "lying" });

static string Id(SensorEvent fall) => $"fall-detection:{fall.SensorId}:{fall.Timestamp.ToUnixTimeMilliseconds()}";

static double Percentile(List<double> sorted, double q) => sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(q * sorted.Count) - 1)];
