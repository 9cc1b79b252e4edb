using Kommune.Connectors.Kafka;

namespace Kommune.Web;

/// <summary>
/// Settings of the operations console, bound from the configuration section <c>Console</c> (for example
/// <c>KOMMUNE_Console__UsersFile</c>); the Kafka cluster and topic names are the engine's own keys.
/// </summary>
public sealed class ConsoleOptions
{
    /// <summary>The configuration section these settings are read from.</summary>
    public const string Section = "Console";

    /// <summary>
    /// Where the console listens, <c>;</c>-separated (default <c>http://127.0.0.1:8080</c>: this machine only). For
    /// HTTPS, configure Kestrel's endpoints under <c>Console:Kestrel</c> instead (README, "Security settings").
    /// </summary>
    public string Urls { get; set; } = "http://127.0.0.1:8080";

    /// <summary>The users file: operators with salted PBKDF2 password hashes (<c>kommune console add-user</c> writes it).</summary>
    public string? UsersFile { get; set; }

    /// <summary>The audit log: one JSON line per operator action and per opening of an alert's details, apart from the application log.</summary>
    public string AuditLog { get; set; } = "kommune-console-audit.jsonl";

    /// <summary>A folder for the keys that protect session cookies, so sessions survive a restart; none keeps ASP.NET Core's default.</summary>
    public string? KeysFolder { get; set; }

    /// <summary>Keep the cookie-protection keys in memory only: every session ends when the console stops (the demo).</summary>
    public bool EphemeralKeys { get; set; }

    /// <summary>How long a login lasts without activity (default 12 hours: a night shift).</summary>
    public TimeSpan SessionTimeout { get; set; } = TimeSpan.FromHours(12);

    /// <summary>Login attempts a client address may make per minute; more are answered 429.</summary>
    public int LoginAttemptsPerMinute { get; set; } = 5;

    /// <summary>Requests a client address may make per minute to the citizens' page and API; more are answered 429.</summary>
    public int PublicRequestsPerMinute { get; set; } = 120;

    /// <summary>How long the citizens' API answer is cached, by the console and by clients.</summary>
    public TimeSpan PublicCacheDuration { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Aggregates older than this (by their window's end) count as no data on the citizens' page.</summary>
    public TimeSpan PublicStaleAfter { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Addresses of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are trusted; none by default.</summary>
    public IList<string> TrustedProxies { get; } = [];

    /// <summary>OpenID Connect sign-in, used when <see cref="OidcOptions.Authority"/> is set.</summary>
    public OidcOptions Oidc { get; set; } = new();

    /// <summary>Resolved alerts kept for their details and timeline after they close (the newest ones).</summary>
    public int ResolvedAlertsKept { get; set; } = 1_000;

    /// <summary>The settings' problems, empty when they can be used.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (UsersFile is null && !Oidc.Enabled)
        {
            problems.Add("Console:UsersFile (--users) or Console:Oidc:Authority must be set: nobody could log in");
        }

        foreach (var url in Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            {
                problems.Add($"Console:Urls must be http:// or https:// addresses separated by ';', not '{url}'");
            }
        }

        if (LoginAttemptsPerMinute <= 0)
        {
            problems.Add($"Console:LoginAttemptsPerMinute must be greater than zero, not {LoginAttemptsPerMinute}");
        }

        if (PublicRequestsPerMinute <= 0)
        {
            problems.Add($"Console:PublicRequestsPerMinute must be greater than zero, not {PublicRequestsPerMinute}");
        }

        if (SessionTimeout <= TimeSpan.Zero)
        {
            problems.Add($"Console:SessionTimeout must be positive, not {SessionTimeout}");
        }

        if (Oidc.Enabled && string.IsNullOrEmpty(Oidc.ClientId))
        {
            problems.Add("Console:Oidc:ClientId must be set with Console:Oidc:Authority");
        }

        return problems;
    }
}

/// <summary>OpenID Connect provider settings (authorization code flow with PKCE).</summary>
public sealed class OidcOptions
{
    /// <summary>The provider's issuer address, for example <c>https://login.example.no/realms/kommune</c>.</summary>
    public string? Authority { get; set; }

    /// <summary>The console's client id at the provider.</summary>
    public string? ClientId { get; set; }

    /// <summary>The console's client secret, if the provider gives it one.</summary>
    public string? ClientSecret { get; set; }

    /// <summary>The button's text: "Log in with …".</summary>
    public string DisplayName { get; set; } = "OpenID Connect";

    /// <summary>The claim that names the operator in commands and the audit log.</summary>
    public string NameClaim { get; set; } = "name";

    /// <summary>The claim carrying roles.</summary>
    public string RoleClaim { get; set; } = "roles";

    /// <summary>When set, only users with this role may acknowledge and resolve; others may only look.</summary>
    public string? OperatorRole { get; set; }

    /// <summary>Whether the provider's metadata must come over HTTPS (true except in tests).</summary>
    public bool RequireHttpsMetadata { get; set; } = true;

    /// <summary>Whether OpenID Connect sign-in is configured.</summary>
    public bool Enabled => !string.IsNullOrEmpty(Authority);
}

/// <summary>Where the console reads and writes Kafka.</summary>
/// <param name="BootstrapServers">The cluster.</param>
/// <param name="Topics">The engine's topic names.</param>
/// <param name="ClientSettings">The librdkafka settings from configuration (TLS, SASL), the engine's own keys <c>Kafka:Common</c>, <c>Kafka:Consumer</c> and <c>Kafka:Producer</c>.</param>
public sealed record ConsoleKafka(string BootstrapServers, KafkaTopics Topics, KafkaClientSettings ClientSettings);
