using Kommune.Web.Security;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Kommune.Web.Endpoints;

/// <summary>
/// Logging in and out: a form checked against the users file (anti-forgery token, attempts rate-limited per client
/// address), or the OpenID Connect provider when one is configured. Every login, failed login and logout is audited.
/// </summary>
internal static class LoginEndpoints
{
    /// <summary>The rate-limiter policy of login attempts.</summary>
    public const string AttemptsPolicy = "login-attempts";

    /// <summary>The authentication scheme of the OpenID Connect provider.</summary>
    public const string OidcScheme = "oidc";

    public static void Map(IEndpointRouteBuilder app, ConsoleOptions options)
    {
        app.MapGet("/login", (HttpContext context, IAntiforgery antiforgery) => LoginPage(context, antiforgery, options, null, StatusCodes.Status200OK))
            .AllowAnonymous();
        app.MapPost("/login", LoginAsync).AllowAnonymous().RequireRateLimiting(AttemptsPolicy);
        app.MapPost("/logout", async (HttpContext context, IAntiforgery antiforgery, AuditLog audit) =>
        {
            if (!await antiforgery.IsRequestValidAsync(context))
            {
                return Results.BadRequest();
            }

            audit.Write(Operator.LoginName(context.User), "logout", null, OperatorEndpoints.Remote(context));
            await context.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
            return Results.Redirect("/login");
        });
        if (options.Oidc.Enabled)
        {
            app.MapGet("/login/oidc", () => Results.Challenge(new AuthenticationProperties { RedirectUri = "/" }, [OidcScheme])).AllowAnonymous();
        }
    }

    /// <summary>The login page, with <paramref name="error"/> (a text key) when the last attempt failed.</summary>
    internal static IResult LoginPage(HttpContext context, IAntiforgery antiforgery, ConsoleOptions options, string? error, int status)
    {
        var returnUrl = context.Request.Query["ReturnUrl"].ToString();
        return Pages.Render(context, "login.html", new Dictionary<string, string>
        {
            ["token"] = antiforgery.GetAndStoreTokens(context).RequestToken ?? "",
            ["returnUrl"] = IsLocal(returnUrl) ? returnUrl : "/",
            ["error"] = error ?? "",
            ["formClass"] = options.UsersFile is null ? "hidden" : "",
            ["oidcClass"] = options.Oidc.Enabled ? "" : "hidden",
            ["oidcName"] = options.Oidc.DisplayName,
        }, status);
    }

    private static async Task<IResult> LoginAsync(HttpContext context, IAntiforgery antiforgery, ConsoleOptions options, AuditLog audit)
    {
        if (!context.Request.HasFormContentType || !await antiforgery.IsRequestValidAsync(context))
        {
            return LoginPage(context, antiforgery, options, "formExpired", StatusCodes.Status400BadRequest);
        }

        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        var name = form["userName"].ToString().Trim();
        var password = form["password"].ToString();
        var user = options.UsersFile is { } file && name.Length > 0 && password.Length > 0 ? UsersFile.Verify(file, name, password) : null;
        if (user is null)
        {
            audit.Write(name.Length > 0 ? name[..Math.Min(name.Length, 100)] : "(none)", "login", null, OperatorEndpoints.Remote(context), "failed");
            return LoginPage(context, antiforgery, options, "loginFailed", StatusCodes.Status401Unauthorized);
        }

        await context.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, Operator.From(user, CookieAuthenticationDefaults.AuthenticationScheme));
        audit.Write(user.Name, "login", null, OperatorEndpoints.Remote(context));
        var returnUrl = form["returnUrl"].ToString();
        return Results.Redirect(IsLocal(returnUrl) ? returnUrl : "/");
    }

    /// <summary>Only a path on this site: never an open redirect to another.</summary>
    private static bool IsLocal(string url) =>
        url.Length > 0 && url[0] == '/' && (url.Length == 1 || (url[1] != '/' && url[1] != '\\'));
}
