using System.Net;
using System.Text.RegularExpressions;
using Kommune.Engine.Tests.Support;
using Kommune.Web.Tests.Support;

namespace Kommune.Web.Tests;

/// <summary><c>kommune console</c> as an operator starts it: a process against a Kafka cluster.</summary>
[Collection(SharedConsole.Name)]
public sealed partial class ConsoleCommandTests(ConsoleFixture fixture)
{
    [Fact]
    public async Task Kommune_console_listens_where_told_prints_its_address_and_serves_the_login_page()
    {
        var audit = Path.Combine(Path.GetTempPath(), $"kommune-console-command-{Guid.NewGuid():N}.jsonl");
        using var console = KommuneProcess.Start(
            new Dictionary<string, string>(),
            "console", "-b", fixture.Cluster.BootstrapServers, "--users", fixture.UsersFile, "--urls", "http://127.0.0.1:0", "--audit-log", audit);
        try
        {
            await console.WaitForOutputAsync("Audit log:", ConsoleFixture.Wait);
            var address = Address().Match(console.Output).Groups[1].Value;
            using var client = new HttpClient { BaseAddress = new Uri(address) };

            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/login")).StatusCode);
            Assert.Contains("\"state\":\"alive\"", await client.GetStringAsync("/healthz"), StringComparison.Ordinal);
            await console.StopAsync("TERM", ConsoleFixture.Wait);
            Assert.Equal(0, console.ExitCode);
        }
        finally
        {
            File.Delete(audit);
        }
    }

    [Fact]
    public async Task Without_a_users_file_or_an_OpenID_Connect_provider_it_stops_at_start_saying_why()
    {
        using var console = KommuneProcess.Start(new Dictionary<string, string>(), "console", "-b", fixture.Cluster.BootstrapServers);
        await console.WaitForExitAsync(ConsoleFixture.Wait);

        Assert.Equal(2, console.ExitCode);
        Assert.Contains("Console:UsersFile (--users) or Console:Oidc:Authority must be set", console.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_address_that_is_not_http_is_refused_at_start()
    {
        using var console = KommuneProcess.Start(new Dictionary<string, string>(), "console", "-b", fixture.Cluster.BootstrapServers, "--users", fixture.UsersFile, "--urls", "ftp://127.0.0.1:21");
        await console.WaitForExitAsync(ConsoleFixture.Wait);

        Assert.Equal(2, console.ExitCode);
        Assert.Contains("Console:Urls must be http:// or https:// addresses", console.Output, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"Operations console on (http://127\.0\.0\.1:\d+)/")]
    private static partial Regex Address();
}
