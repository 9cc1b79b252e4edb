using System.Globalization;
using System.Net;
using System.Threading.RateLimiting;
using Kommune.Connectors.Kafka;
using Kommune.Web.Boards;
using Kommune.Web.Endpoints;
using Kommune.Web.Security;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kommune.Web;

/// <summary>
/// The operations console and the citizens' page on Kestrel: builds the web application (authentication,
/// authorization, anti-forgery, rate limits, caching, security headers, the endpoints), starts the Kafka feed and
/// listens. Owned by a host (<see cref="ConsoleService"/>) or a test, which stops it by disposing it.
/// </summary>
public sealed class ConsoleServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ConsoleServer(WebApplication app, IReadOnlyList<Uri> addresses)
    {
        _app = app;
        Addresses = addresses;
    }

    /// <summary>Where it listens, with the actual ports.</summary>
    public IReadOnlyList<Uri> Addresses { get; }

    /// <summary>The first address.</summary>
    public Uri Address => Addresses[0];

    /// <summary>The audit log's full path.</summary>
    public string AuditLogPath => _app.Services.GetRequiredService<AuditLog>().Path;

    /// <summary>Completes once the console has read its topics to the end they had at start.</summary>
    public Task CaughtUp => _app.Services.GetRequiredService<ConsoleFeed>().CaughtUp;

    internal ConsoleBoard Board => _app.Services.GetRequiredService<ConsoleBoard>();

    /// <summary>Starts the console.</summary>
    /// <param name="options">The console's settings; <see cref="ConsoleOptions.Problems"/> must be empty.</param>
    /// <param name="kafka">The cluster and topics.</param>
    /// <param name="loggerFactory">The application log (the audit log is apart from it).</param>
    /// <param name="kestrel">Kestrel's endpoint configuration (<c>Console:Kestrel</c>, for HTTPS); when it has endpoints, <see cref="ConsoleOptions.Urls"/> is not used.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <exception cref="ArgumentException">The settings have problems; the message lists them.</exception>
    /// <exception cref="IOException">An address is in use or cannot be bound; the message says which.</exception>
    public static async Task<ConsoleServer> StartAsync(ConsoleOptions options, ConsoleKafka kafka, ILoggerFactory loggerFactory, IConfiguration? kestrel = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(kafka);
        var problems = options.Problems();
        if (problems.Count > 0)
        {
            throw new ArgumentException("Invalid console configuration: " + string.Join("; ", problems));
        }

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory, ApplicationName = "kommune-console" });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggerFactory);
        builder.Services.AddSingleton<IHostLifetime, StoppedByOwner>();
        // The slim builder leaves out HTTPS from configuration; Console:Kestrel may name certificates.
        builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            if (kestrel?.GetSection("Endpoints").GetChildren().Any() == true)
            {
                k.Configure(kestrel);
            }
        });
        if (kestrel?.GetSection("Endpoints").GetChildren().Any() != true)
        {
            builder.WebHost.UseUrls(options.Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        }

        AddServices(builder.Services, options, kafka);
        var app = builder.Build();
        UsePipeline(app, options);
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (IOException e)
        {
            await app.DisposeAsync();
            throw new IOException($"The console cannot listen on {options.Urls} ({e.Message}); set Console:Urls (--urls) to a free address", e);
        }

        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses
            .Select(a => new Uri(a.Replace("[::]", "localhost", StringComparison.Ordinal).Replace("0.0.0.0", "localhost", StringComparison.Ordinal)))
            .ToList() ?? [];
        return new ConsoleServer(app, addresses);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
    }

    private static void AddServices(IServiceCollection services, ConsoleOptions options, ConsoleKafka kafka)
    {
        services.AddSingleton(options);
        services.AddSingleton(kafka);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(new ConsoleBoard(options.ResolvedAlertsKept));
        services.AddSingleton<ConsoleFeed>();
        services.AddHostedService(sp => sp.GetRequiredService<ConsoleFeed>());
        services.AddSingleton(_ => new KafkaCommandSink(kafka.BootstrapServers, kafka.ClientSettings, kafka.Topics.Acks));
        services.AddSingleton(sp => new AuditLog(options.AuditLog, sp.GetRequiredService<TimeProvider>()));

        if (options.EphemeralKeys)
        {
            services.AddSingleton<IDataProtectionProvider>(new EphemeralDataProtectionProvider());
        }
        else
        {
            var dataProtection = services.AddDataProtection().SetApplicationName("kommune-console");
            if (options.KeysFolder is { } keys)
            {
                dataProtection.PersistKeysToFileSystem(new DirectoryInfo(keys));
            }
        }

        var authentication = services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme).AddCookie(o =>
        {
            o.Cookie.Name = "kommune.console";
            o.Cookie.HttpOnly = true;
            // Strict unless a provider's redirect must bring the user back logged in.
            o.Cookie.SameSite = options.Oidc.Enabled ? SameSiteMode.Lax : SameSiteMode.Strict;
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            o.ExpireTimeSpan = options.SessionTimeout;
            o.SlidingExpiration = true;
            o.LoginPath = "/login";
            o.AccessDeniedPath = "/login";
            o.Events.OnRedirectToLogin = c => Refuse(c, StatusCodes.Status401Unauthorized);
            o.Events.OnRedirectToAccessDenied = c => Refuse(c, StatusCodes.Status403Forbidden);
        });
        if (options.Oidc.Enabled)
        {
            authentication.AddOpenIdConnect(LoginEndpoints.OidcScheme, o => OidcSignIn.Configure(o, options));
        }

        services.AddAuthorizationBuilder()
            .SetFallbackPolicy(new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build())
            .AddPolicy(Operator.ActPolicy, p => p.RequireAuthenticatedUser().RequireClaim(Operator.CanActClaim, "true"));
        services.AddAntiforgery(o =>
        {
            o.Cookie.Name = "kommune.antiforgery";
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
        });
        services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.AddPolicy(LoginEndpoints.AttemptsPolicy, c => PerClient(c, options.LoginAttemptsPerMinute));
            o.AddPolicy(PublicEndpoints.RatePolicy, c => PerClient(c, options.PublicRequestsPerMinute));
            o.OnRejected = async (c, token) =>
            {
                c.HttpContext.Response.Headers.RetryAfter = "60";
                if (c.HttpContext.Request.Path.StartsWithSegments("/login"))
                {
                    var antiforgery = c.HttpContext.RequestServices.GetRequiredService<Microsoft.AspNetCore.Antiforgery.IAntiforgery>();
                    await LoginEndpoints.LoginPage(c.HttpContext, antiforgery, options, "tooManyAttempts", StatusCodes.Status429TooManyRequests).ExecuteAsync(c.HttpContext);
                }
                else
                {
                    await c.HttpContext.Response.WriteAsync("Too many requests: try again in a minute.\n", token);
                }
            };
        });
        services.AddOutputCache(o => PublicEndpoints.AddPolicy(o, options));
    }

    private static void UsePipeline(WebApplication app, ConsoleOptions options)
    {
        if (options.TrustedProxies.Count > 0)
        {
            var forwarded = new ForwardedHeadersOptions { ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto };
            foreach (var proxy in options.TrustedProxies)
            {
                forwarded.KnownProxies.Add(IPAddress.Parse(proxy));
            }

            app.UseForwardedHeaders(forwarded);
        }

        app.Use(SecurityHeaders.Add);
        app.UseHsts();
        app.UseRouting();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter();
        app.UseOutputCache();
        app.MapGet("/assets/{name}", (HttpContext c, string name) => Pages.Asset(c, name)).AllowAnonymous();
        app.MapGet("/healthz", (ConsoleFeed feed) => Results.Json(new { state = "alive", caughtUp = feed.CaughtUp.IsCompletedSuccessfully })).AllowAnonymous();
        LoginEndpoints.Map(app, options);
        OperatorEndpoints.Map(app);
        PublicEndpoints.Map(app, options);
    }

    /// <summary>The API answers 401/403; a page is sent to the login form.</summary>
    private static Task Refuse(Microsoft.AspNetCore.Authentication.RedirectContext<CookieAuthenticationOptions> context, int status)
    {
        if (context.Request.Path.StartsWithSegments("/api"))
        {
            context.Response.StatusCode = status;
        }
        else
        {
            context.Response.Redirect(context.RedirectUri);
        }

        return Task.CompletedTask;
    }

    /// <summary>A fixed one-minute window per client address (the proxy's, unless <see cref="ConsoleOptions.TrustedProxies"/> names it).</summary>
    private static RateLimitPartition<string> PerClient(HttpContext context, int perMinute) =>
        RateLimitPartition.GetFixedWindowLimiter(
            context.Connection.RemoteIpAddress?.ToString() ?? "unknown",
            _ => new FixedWindowRateLimiterOptions { PermitLimit = perMinute, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 });

    /// <summary>A host lifetime that reacts to no signal: the console is stopped by whoever started it.</summary>
    private sealed class StoppedByOwner : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}

/// <summary>OpenID Connect sign-in: authorization code with PKCE; the operator's name and right to act come from the provider's claims.</summary>
internal static class OidcSignIn
{
    public static void Configure(OpenIdConnectOptions o, ConsoleOptions options)
    {
        var oidc = options.Oidc;
        o.Authority = oidc.Authority;
        o.ClientId = oidc.ClientId;
        o.ClientSecret = oidc.ClientSecret;
        o.ResponseType = "code";
        o.UsePkce = true;
        o.SaveTokens = false;
        o.GetClaimsFromUserInfoEndpoint = true;
        o.RequireHttpsMetadata = oidc.RequireHttpsMetadata;
        o.SignInScheme = CookieAuthenticationDefaults.AuthenticationScheme;
        o.CallbackPath = "/signin-oidc";
        o.Scope.Add("profile");
        o.MapInboundClaims = false;
        o.TokenValidationParameters.NameClaimType = oidc.NameClaim;
        o.TokenValidationParameters.RoleClaimType = oidc.RoleClaim;
        o.Events.OnTicketReceived = context =>
        {
            if (context.Principal?.Identity is System.Security.Claims.ClaimsIdentity identity)
            {
                identity.AddClaim(new System.Security.Claims.Claim(Operator.DisplayNameClaim, identity.Name ?? ""));
                if (oidc.OperatorRole is null || context.Principal.IsInRole(oidc.OperatorRole))
                {
                    identity.AddClaim(new System.Security.Claims.Claim(Operator.CanActClaim, "true"));
                }

                context.HttpContext.RequestServices.GetRequiredService<AuditLog>()
                    .Write(identity.Name ?? "(unknown)", "login", null, context.HttpContext.Connection.RemoteIpAddress?.ToString(), "ok: " + oidc.DisplayName);
            }

            return Task.CompletedTask;
        };
    }
}
