using System.Diagnostics;
using System.Net;
using System.Text;
using Kommune.Connectors.Codecs;
using Kommune.Rules.Model;
using Kommune.Web.Tests.Support;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace Kommune.Web.Tests;

/// <summary>The operators' page in a real browser (Debian's headless chromium) against the embedded broker and a running engine.</summary>
[Collection(SharedConsole.Name)]
public sealed class OperatorsPageTests(ConsoleFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task A_fall_produced_to_the_sensor_events_topic_appears_on_the_logged_in_operator_s_page_within_two_seconds()
    {
        var page = await fixture.LoginAsync();
        await using var context = page.Context;
        var fall = ConsoleFixture.Fall("wearable-0417", "bydel-grunerlokka");

        var produced = Stopwatch.StartNew();
        fixture.Produce(fall);
        var row = Row(page, ConsoleFixture.AlertId(fall));
        await row.WaitForAsync(new LocatorWaitForOptions { Timeout = 2_000 });
        output.WriteLine($"on the page {produced.ElapsedMilliseconds} ms after it was produced");

        Assert.Contains("wearable-0417", await row.InnerTextAsync(), StringComparison.Ordinal);
        Assert.Contains("critical", await row.InnerTextAsync(), StringComparison.Ordinal);
        await Assertions.Expect(page.Locator("#banner")).ToContainTextAsync("New critical alert: fall-detection · wearable-0417 · bydel-grunerlokka");

        // A few more, for the screenshot of a page with open alerts.
        var more = new[] { ("wearable-1103", "bydel-sagene"), ("wearable-2210", "bydel-nordstrand"), ("wearable-0932", "bydel-alna") }
            .Select(f => ConsoleFixture.Fall(f.Item1, f.Item2)).ToList();
        fixture.ProduceAll(more);
        foreach (var f in more)
        {
            await Row(page, ConsoleFixture.AlertId(f)).WaitForAsync();
        }

        await SaveScreenshotAsync(page, "console-operators.png");
    }

    [Fact]
    public async Task Acknowledge_writes_the_operator_s_command_the_row_shows_the_engine_s_acknowledged_record_and_no_escalation_follows()
    {
        var page = await fixture.LoginAsync();
        await using var context = page.Context;
        var fall = ConsoleFixture.Fall("wearable-ack", "bydel-sagene");
        var alertId = ConsoleFixture.AlertId(fall);
        fixture.Produce(fall);
        var row = Row(page, alertId);

        await row.Locator("button.ack").ClickAsync();

        // The command, with the operator's display name as "by", keyed by the alert id.
        await ConsoleFixture.WaitUntilAsync(() => fixture.Acks.Any(r => Key(r) == alertId));
        var record = fixture.Acks.Single(r => Key(r) == alertId);
        Assert.True(AlertCommandDecoder.TryDecode(record.Key, record.Value, out var command, out var failure), failure.Text);
        Assert.Equal(AlertAction.Ack, command!.Action);
        Assert.Equal(ConsoleFixture.OperatorName, command.By);

        // The engine's record, and the row once it is back.
        await ConsoleFixture.WaitUntilAsync(() => fixture.AlertRecords(alertId).Any(a => a.Status == AlertStatus.Acknowledged));
        await Assertions.Expect(row.Locator(".status")).ToContainTextAsync("acknowledged");
        var acknowledgedLevel = fixture.AlertRecords(alertId).Last().Level;

        // A barrier: a fall raised after the ack, in the same area, escalates twice (3 s, then 3 s more); by then every
        // deadline of the acknowledged alert (raised earlier, same timeouts) has passed.
        var barrier = ConsoleFixture.Fall("wearable-barrier", "bydel-sagene");
        fixture.Produce(barrier);
        await ConsoleFixture.WaitUntilAsync(() => fixture.AlertRecords(ConsoleFixture.AlertId(barrier)).Any(a => a.Level == 3));

        var records = fixture.AlertRecords(alertId);
        Assert.Equal(AlertStatus.Acknowledged, records[^1].Status);
        Assert.DoesNotContain(records.SkipWhile(a => a.Status != AlertStatus.Acknowledged), a => a.Status == AlertStatus.Escalated);
        await Assertions.Expect(row.Locator(".status")).ToContainTextAsync($"acknowledged · level {acknowledgedLevel}");

        // The details' timeline names who acted; the action and the opening are both in the audit log.
        await row.Locator("span").Nth(2).ClickAsync();
        await Assertions.Expect(page.Locator("#details-timeline")).ToContainTextAsync($"by {ConsoleFixture.OperatorName}");
        var audit = await File.ReadAllLinesAsync(fixture.AuditLogPath);
        Assert.Contains(audit, l => l.Contains("\"action\":\"acknowledge\"", StringComparison.Ordinal) && l.Contains(alertId, StringComparison.Ordinal) && l.Contains($"\"who\":\"{ConsoleFixture.Operator}\"", StringComparison.Ordinal));
        Assert.Contains(audit, l => l.Contains("\"action\":\"view-alert\"", StringComparison.Ordinal) && l.Contains(alertId, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Without_a_session_a_POST_of_an_acknowledgement_is_refused_and_nothing_is_written()
    {
        var fall = ConsoleFixture.Fall("wearable-anonymous", "bydel-frogner");
        var alertId = ConsoleFixture.AlertId(fall);
        fixture.Produce(fall);
        await ConsoleFixture.WaitUntilAsync(() => fixture.Console.Board.IsOpen(alertId));

        // A browser with no session, posting the form as a page of another site would.
        await using var context = await fixture.Browser.NewContextAsync();
        var anonymous = await context.APIRequest.PostAsync(fixture.BaseUrl + "/api/alerts/ack", new APIRequestContextOptions
        {
            Form = context.APIRequest.CreateFormData().Set("alertId", alertId),
            MaxRedirects = 0,
        });
        Assert.Equal((int)HttpStatusCode.Unauthorized, anonymous.Status);

        // Logged in, but without the anti-forgery token: refused too.
        var page = await fixture.LoginAsync();
        await using var operatorContext = page.Context;
        var forged = await page.Context.APIRequest.PostAsync(fixture.BaseUrl + "/api/alerts/ack", new APIRequestContextOptions
        {
            Form = page.Context.APIRequest.CreateFormData().Set("alertId", alertId),
            MaxRedirects = 0,
        });
        Assert.Equal((int)HttpStatusCode.BadRequest, forged.Status);

        // A viewer may look but not act.
        var viewer = await fixture.LoginAsync(ConsoleFixture.Viewer);
        await using var viewerContext = viewer.Context;
        var token = await viewer.Locator("meta[name=request-token]").GetAttributeAsync("content");
        var refused = await viewer.Context.APIRequest.PostAsync(fixture.BaseUrl + "/api/alerts/ack", new APIRequestContextOptions
        {
            Form = viewer.Context.APIRequest.CreateFormData().Set("alertId", alertId).Set("__RequestVerificationToken", token!),
            MaxRedirects = 0,
        });
        Assert.Equal((int)HttpStatusCode.Forbidden, refused.Status);
        Assert.Equal(0, await Row(viewer, alertId).Locator("button").CountAsync());

        // Each refusal answered after the point where a command would have been written: nothing is on the topic.
        using var reader = new Connectors.Kafka.KafkaTopicFollower(fixture.Cluster.BootstrapServers, Connectors.Kafka.KafkaClientSettings.None, [fixture.Topics.Acks], _ => { }, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        reader.Start();
        await reader.CaughtUp.WaitAsync(ConsoleFixture.Wait);
        Assert.DoesNotContain(fixture.Acks, r => Key(r) == alertId);
        Assert.True(fixture.Console.Board.IsOpen(alertId));
    }

    [Fact]
    public async Task A_sensor_id_and_evidence_with_script_and_HTML_are_shown_as_text()
    {
        var page = await fixture.LoginAsync();
        await using var context = page.Context;
        var hostile = "<script>window.__pwned=1</script><img src=x onerror=\"window.__pwned=2\">";
        var fall = ConsoleFixture.Fall(hostile, "bydel-<b>gamle</b>-oslo", values: new Dictionary<string, SensorValue>
        {
            ["note"] = "<img src=x onerror=\"window.__pwned=3\"><b>bold</b>",
            ["<i>name</i>"] = 1.0,
        });
        var dialogs = 0;
        page.Dialog += (_, d) => { dialogs++; _ = d.DismissAsync(); };
        fixture.Produce(fall);

        var row = Row(page, ConsoleFixture.AlertId(fall));
        await Assertions.Expect(row).ToContainTextAsync(hostile);
        await Assertions.Expect(row).ToContainTextAsync("bydel-<b>gamle</b>-oslo");
        await Assertions.Expect(row).ToContainTextAsync("note=<img src=x onerror=\"window.__pwned=3\"><b>bold</b>");
        Assert.Equal(0, await row.Locator("script, img, b, i").CountAsync());

        await row.Locator("span").Nth(2).ClickAsync();
        await Assertions.Expect(page.Locator("#details-evidence")).ToContainTextAsync("<b>bold</b>");
        await Assertions.Expect(page.Locator("#details-title")).ToContainTextAsync(hostile);
        Assert.Equal(0, await page.Locator("#details script, #details img, #details b, #details i").CountAsync());
        Assert.Null(await page.EvaluateAsync<int?>("() => window.__pwned ?? null"));
        Assert.Equal(0, dialogs);
    }

    internal static ILocator Row(IPage page, string alertId) =>
        page.Locator($".list .row:not([hidden])[data-alert-id=\"{alertId.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)}\"]");

    internal static async Task SaveScreenshotAsync(IPage page, string name)
    {
        Directory.CreateDirectory(ConsoleFixture.ScreenshotFolder);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ConsoleFixture.ScreenshotFolder, name) });
    }

    private static string Key(Connectors.Kafka.TopicRecord record) => record.Key is null ? "" : Encoding.UTF8.GetString(record.Key);
}
