using System.Text;
using Kommune.Connectors.Kafka;
using Kommune.Rules.Model;
using Kommune.Web.Boards;
using Kommune.Web.Security;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;

namespace Kommune.Web.Endpoints;

/// <summary>
/// The operators' page and its API, all behind login: the page, the live stream of changes (server-sent events), an
/// alert's details (audited) and the acknowledge and resolve commands (anti-forgery checked, audited, written to the
/// acks topic with the operator as <c>by</c>). The page shows a command's effect only when the engine's record
/// comes back on the stream.
/// </summary>
internal static class OperatorEndpoints
{
    private static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(15);

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/", (HttpContext context, IAntiforgery antiforgery) => Pages.Render(context, "console.html", new Dictionary<string, string>
        {
            ["token"] = antiforgery.GetAndStoreTokens(context).RequestToken ?? "",
            ["user"] = Operator.DisplayName(context.User),
            ["canAct"] = Operator.CanAct(context.User) ? "true" : "false",
        }));
        app.MapGet("/api/stream", StreamAsync);
        // Whether the session still holds: the page asks when its stream was refused.
        app.MapGet("/api/session", (HttpContext context) => Results.Json(new { user = Operator.DisplayName(context.User), canAct = Operator.CanAct(context.User) }));
        app.MapGet("/api/alerts/details", (HttpContext context, string id, ConsoleBoard board, AuditLog audit) =>
        {
            var details = board.Details(id);
            audit.Write(Operator.LoginName(context.User), "view-alert", id, Remote(context), details is null ? "not found" : "ok");
            return details is null ? Results.NotFound() : Results.Json(details, ConsoleJson.Options);
        });
        app.MapPost("/api/alerts/ack", (HttpContext context, IAntiforgery antiforgery, ConsoleBoard board, KafkaCommandSink sink, AuditLog audit, TimeProvider time) =>
            SendAsync(context, AlertAction.Ack, antiforgery, board, sink, audit, time)).RequireAuthorization(Operator.ActPolicy);
        app.MapPost("/api/alerts/resolve", (HttpContext context, IAntiforgery antiforgery, ConsoleBoard board, KafkaCommandSink sink, AuditLog audit, TimeProvider time) =>
            SendAsync(context, AlertAction.Resolve, antiforgery, board, sink, audit, time)).RequireAuthorization(Operator.ActPolicy);
    }

    internal static string? Remote(HttpContext context) => context.Connection.RemoteIpAddress?.ToString();

    private static async Task<IResult> SendAsync(HttpContext context, AlertAction action, IAntiforgery antiforgery, ConsoleBoard board, KafkaCommandSink sink, AuditLog audit, TimeProvider time)
    {
        var who = Operator.LoginName(context.User);
        var what = action == AlertAction.Ack ? "acknowledge" : "resolve";
        if (!context.Request.HasFormContentType || !await antiforgery.IsRequestValidAsync(context))
        {
            audit.Write(who, what, null, Remote(context), "refused: no valid anti-forgery token");
            return Results.BadRequest(new { error = "missing or invalid anti-forgery token" });
        }

        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        var alertId = form["alertId"].ToString();
        if (alertId.Length == 0)
        {
            return Results.BadRequest(new { error = "alertId is missing" });
        }

        if (!board.IsOpen(alertId))
        {
            audit.Write(who, what, alertId, Remote(context), "refused: not an open alert");
            return Results.Conflict(new { error = "not an open alert" });
        }

        try
        {
            await sink.SendAsync(new AlertCommand(alertId, action, Operator.DisplayName(context.User), time.GetUtcNow()), context.RequestAborted);
        }
        catch (KafkaCommandException e)
        {
            audit.Write(who, what, alertId, Remote(context), "failed: " + e.Message);
            return Results.Problem(e.Message, statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        audit.Write(who, what, alertId, Remote(context));
        return Results.Accepted(value: new { sent = true });
    }

    /// <summary>The snapshot, then every change as it happens, with a comment line every few seconds to keep proxies from closing it.</summary>
    private static async Task StreamAsync(HttpContext context, ConsoleBoard board)
    {
        context.Response.ContentType = "text/event-stream; charset=utf-8";
        context.Response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        var aborted = context.RequestAborted;
        using var subscription = board.Subscribe();
        var body = new StringBuilder("retry: 2000\n\n");
        Append(body, subscription.Snapshot);
        try
        {
            await context.Response.WriteAsync(body.ToString(), aborted);
            await context.Response.Body.FlushAsync(aborted);
            while (!aborted.IsCancellationRequested)
            {
                body.Clear();
                using (var wait = CancellationTokenSource.CreateLinkedTokenSource(aborted))
                {
                    wait.CancelAfter(Heartbeat);
                    try
                    {
                        if (!await subscription.Changes.WaitToReadAsync(wait.Token))
                        {
                            return; // Dropped for not keeping up: the page reconnects and gets a new snapshot.
                        }
                    }
                    catch (OperationCanceledException) when (!aborted.IsCancellationRequested)
                    {
                        body.Append(": keep-alive\n\n");
                    }
                }

                while (subscription.Changes.TryRead(out var change))
                {
                    Append(body, change);
                }

                await context.Response.WriteAsync(body.ToString(), aborted);
                await context.Response.Body.FlushAsync(aborted);
            }
        }
        catch (OperationCanceledException)
        {
            // The page went away.
        }
        catch (InvalidOperationException)
        {
            // Dropped for not keeping up.
        }
    }

    private static void Append(StringBuilder body, ServerEvent change) =>
        body.Append("event: ").Append(change.Name).Append("\ndata: ").Append(change.Data).Append("\n\n");
}
