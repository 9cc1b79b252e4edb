using Microsoft.AspNetCore.Http;

namespace Kommune.Web.Security;

/// <summary>
/// Headers on every answer: a Content-Security-Policy that runs only the console's own scripts (no inline script, no
/// other origin), no framing, no MIME sniffing, no referrer; and no caching of anything but the assets and the
/// citizens' pages, since the operators' answers carry health data.
/// </summary>
internal static class SecurityHeaders
{
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

    public static Task Add(HttpContext context, Func<Task> next)
    {
        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()";
        headers["Cross-Origin-Opener-Policy"] = "same-origin";
        // Assets and the citizens' endpoints set their own caching; everything else is private and never stored.
        headers.CacheControl = "no-store";
        return next();
    }
}
