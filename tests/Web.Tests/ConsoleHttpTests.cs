using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Kommune.Web.Tests.Support;
using Microsoft.Extensions.Configuration;

namespace Kommune.Web.Tests;

/// <summary>The console's security settings over plain HTTP(S): who may read, rate limits, headers, HTTPS through Kestrel.</summary>
[Collection(SharedConsole.Name)]
public sealed class ConsoleHttpTests(ConsoleFixture fixture)
{
    [Fact]
    public async Task Nothing_but_the_login_page_the_assets_and_the_citizens_pages_is_served_without_a_session()
    {
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = fixture.Console.Address };

        var page = await client.GetAsync("/");
        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
        Assert.StartsWith("/login", page.Headers.Location!.OriginalString.Replace(fixture.BaseUrl, "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/stream")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/session")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/alerts/details?id=x")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/login")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/assets/console.js")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/assets/..%2Fconsole.html")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/public")).StatusCode);

        var login = await client.GetAsync("/login");
        Assert.Equal(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
            login.Headers.GetValues("Content-Security-Policy").Single());
        Assert.Equal("nosniff", login.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("DENY", login.Headers.GetValues("X-Frame-Options").Single());
        Assert.True(login.Headers.CacheControl!.NoStore);
    }

    [Fact]
    public async Task Login_attempts_beyond_the_limit_per_client_are_answered_429_even_with_the_right_password()
    {
        await using var console = await fixture.StartConsoleAsync(o => o.LoginAttemptsPerMinute = 3);
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = console.Address };
        var form = await LoginFormAsync(client);

        for (var i = 0; i < 3; i++)
        {
            var wrong = await client.PostAsync("/login", Form(form, ConsoleFixture.Operator, "wrong password"));
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }

        var limited = await client.PostAsync("/login", Form(form, ConsoleFixture.Operator, ConsoleFixture.Password));
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.Equal("60", limited.Headers.GetValues("Retry-After").Single());
        Assert.Contains(await File.ReadAllLinesAsync(fixture.AuditLogPath), l => l.Contains("\"action\":\"login\"", StringComparison.Ordinal) && l.Contains("\"outcome\":\"failed\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_citizens_API_is_rate_limited_per_client()
    {
        await using var console = await fixture.StartConsoleAsync(o => o.PublicRequestsPerMinute = 2);
        using var client = new HttpClient { BaseAddress = console.Address };

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/public/v1/areas")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/public/v1/areas")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.GetAsync("/api/public/v1/areas")).StatusCode);
    }

    [Fact]
    public async Task With_an_HTTPS_endpoint_in_Kestrel_s_configuration_it_serves_HTTPS_and_the_session_cookie_is_Secure()
    {
        var folder = Directory.CreateTempSubdirectory().FullName;
        var certificate = Path.Combine(folder, "console.pfx");
        using (var rsa = RSA.Create(2048))
        {
            var request = new CertificateRequest("CN=localhost", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            using var self = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
            await File.WriteAllBytesAsync(certificate, self.Export(X509ContentType.Pfx, "secret"));
        }

        var kestrel = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Endpoints:Https:Url"] = "https://127.0.0.1:0",
            ["Endpoints:Https:Certificate:Path"] = certificate,
            ["Endpoints:Https:Certificate:Password"] = "secret",
        }).Build();
        await using var console = await fixture.StartConsoleAsync(kestrel: kestrel);
        Assert.Equal("https", console.Address.Scheme);
        using var client = new HttpClient(new HttpClientHandler
        {
            AllowAutoRedirect = false,
            ServerCertificateCustomValidationCallback = (_, cert, _, _) => cert?.Subject == "CN=localhost",
        }) { BaseAddress = console.Address };

        var form = await LoginFormAsync(client);
        var login = await client.PostAsync("/login", Form(form, ConsoleFixture.Operator, ConsoleFixture.Password));

        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        var cookie = login.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("kommune.console=", StringComparison.Ordinal));
        Assert.Contains("secure", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>The login page's anti-forgery token (its cookie stays in the client's cookie container).</summary>
    private static async Task<string> LoginFormAsync(HttpClient client)
    {
        var html = await client.GetStringAsync("/login");
        const string marker = "name=\"__RequestVerificationToken\" value=\"";
        var start = html.IndexOf(marker, StringComparison.Ordinal) + marker.Length;
        return html[start..html.IndexOf('"', start)];
    }

    private static FormUrlEncodedContent Form(string token, string user, string password) => new(new Dictionary<string, string>
    {
        ["__RequestVerificationToken"] = token,
        ["userName"] = user,
        ["password"] = password,
        ["returnUrl"] = "/",
    });
}
