using System.Collections.Concurrent;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Kommune.Web.Texts;
using Microsoft.AspNetCore.Http;

namespace Kommune.Web.Endpoints;

/// <summary>
/// The pages and their assets, shipped inside the assembly (no CDN: the console works offline on a centre's
/// network). A page is an HTML template whose <c>{{t:key}}</c> are replaced by the texts of the browser's language
/// and whose <c>{{name}}</c> are replaced by the values given, every one HTML-encoded; the texts also go to the
/// scripts as a JSON data block, which the Content-Security-Policy does not let run.
/// </summary>
internal static class Pages
{
    private static readonly Assembly Assembly = typeof(Pages).Assembly;
    private static readonly ConcurrentDictionary<string, StoredAsset?> Assets = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, string> TextsJson = new(StringComparer.Ordinal);

    // JavaScriptEncoder escapes <, > and & too, so the texts' block cannot end its script element early.
    private static readonly JsonSerializerOptions ScriptJson = new() { Encoder = JavaScriptEncoder.Default };

    /// <summary>Renders page <paramref name="name"/> (for example <c>console.html</c>) in the request's language.</summary>
    public static IResult Render(HttpContext context, string name, IReadOnlyDictionary<string, string>? values = null, int status = StatusCodes.Status200OK)
    {
        var language = Language.Choose(context.Request.Headers.AcceptLanguage);
        var texts = PageTexts.For(language);
        var template = Text(name);
        var html = new StringBuilder(template.Length + 2048);
        var at = 0;
        while (true)
        {
            var open = template.IndexOf("{{", at, StringComparison.Ordinal);
            if (open < 0)
            {
                html.Append(template, at, template.Length - at);
                break;
            }

            var close = template.IndexOf("}}", open, StringComparison.Ordinal);
            html.Append(template, at, open - at);
            var key = template[(open + 2)..close];
            html.Append(key switch
            {
                "lang" => language,
                "texts" => TextsJson.GetOrAdd(language, _ => JsonSerializer.Serialize(texts, ScriptJson)),
                _ when key.StartsWith("t:", StringComparison.Ordinal) => HtmlEncoder.Default.Encode(texts[key[2..]]),
                _ => HtmlEncoder.Default.Encode(values?.GetValueOrDefault(key) ?? ""),
            });
            at = close + 2;
        }

        context.Response.Headers.Vary = "Accept-Language";
        return Results.Content(html.ToString(), "text/html; charset=utf-8", Encoding.UTF8, status);
    }

    /// <summary>Serves an asset (script, style sheet, icon) with an ETag; 404 for any other name.</summary>
    public static IResult Asset(HttpContext context, string name)
    {
        var asset = Assets.GetOrAdd(name, Load);
        if (asset is null)
        {
            return Results.NotFound();
        }

        context.Response.Headers.CacheControl = "public, max-age=300";
        context.Response.Headers.ETag = asset.ETag;
        if (context.Request.Headers.IfNoneMatch == asset.ETag)
        {
            return Results.StatusCode(StatusCodes.Status304NotModified);
        }

        return Results.Bytes(asset.Content, asset.ContentType);
    }

    /// <summary>Every text key the templates and scripts use, for the test that both languages have them all.</summary>
    internal static IEnumerable<string> ResourceNames =>
        Assembly.GetManifestResourceNames().Where(n => n.StartsWith("Kommune.Web.Pages.", StringComparison.Ordinal)).Select(n => n["Kommune.Web.Pages.".Length..]);

    internal static string Text(string name)
    {
        using var stream = Assembly.GetManifestResourceStream("Kommune.Web.Pages." + name)
            ?? throw new InvalidOperationException($"No page {name} in the assembly");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    private static StoredAsset? Load(string name)
    {
        var contentType = Path.GetExtension(name) switch
        {
            ".js" => "text/javascript; charset=utf-8",
            ".css" => "text/css; charset=utf-8",
            ".svg" => "image/svg+xml",
            _ => null,
        };
        using var stream = contentType is null ? null : Assembly.GetManifestResourceStream("Kommune.Web.Pages." + name);
        if (stream is null)
        {
            return null;
        }

        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        var content = memory.ToArray();
        return new StoredAsset(content, contentType!, $"\"{Convert.ToHexStringLower(SHA256.HashData(content))[..16]}\"");
    }

    private sealed record StoredAsset(byte[] Content, string ContentType, string ETag);
}
