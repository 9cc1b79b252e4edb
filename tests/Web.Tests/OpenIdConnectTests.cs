using System.Net;
using System.Web;
using Kommune.Web.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Hosting;

namespace Kommune.Web.Tests;

/// <summary>With an OpenID Connect provider configured, the login page sends operators to it (code flow with PKCE).</summary>
[Collection(SharedConsole.Name)]
public sealed class OpenIdConnectTests(ConsoleFixture fixture)
{
    [Fact]
    public async Task Log_in_with_the_provider_redirects_to_its_authorization_endpoint_with_the_console_s_client_id_and_PKCE()
    {
        // A stand-in provider that publishes its metadata: all a challenge needs before the user is sent there.
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var provider = builder.Build();
        provider.MapGet("/.well-known/openid-configuration", (HttpContext c) => Results.Json(new Dictionary<string, string>
        {
            ["issuer"] = $"http://{c.Request.Host}",
            ["authorization_endpoint"] = $"http://{c.Request.Host}/authorize",
            ["token_endpoint"] = $"http://{c.Request.Host}/token",
            ["jwks_uri"] = $"http://{c.Request.Host}/jwks",
        }));
        provider.MapGet("/jwks", () => Results.Json(new { keys = Array.Empty<object>() }));
        await provider.StartAsync();
        var authority = provider.Urls.Single();

        await using var console = await fixture.StartConsoleAsync(o =>
        {
            o.UsersFile = null;
            o.Oidc.Authority = authority;
            o.Oidc.ClientId = "kommune-console";
            o.Oidc.DisplayName = "Kommune ID";
            o.Oidc.RequireHttpsMetadata = false;
        });
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = console.Address };

        var login = await client.GetStringAsync("/login");
        Assert.Contains("Log in with Kommune ID", login, StringComparison.Ordinal);
        Assert.Contains("<form method=\"post\" action=\"/login\" class=\"hidden\">", login, StringComparison.Ordinal);

        var challenge = await client.GetAsync("/login/oidc");
        Assert.Equal(HttpStatusCode.Redirect, challenge.StatusCode);
        var location = challenge.Headers.Location!;
        Assert.StartsWith(authority + "/authorize", location.ToString(), StringComparison.Ordinal);
        var query = HttpUtility.ParseQueryString(location.Query);
        Assert.Equal("kommune-console", query["client_id"]);
        Assert.Equal("code", query["response_type"]);
        Assert.Equal("S256", query["code_challenge_method"]);
        Assert.Equal(new Uri(console.Address, "/signin-oidc").ToString(), query["redirect_uri"]);
    }
}
