using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kommune.Engine.Hosting;

/// <summary>
/// Builds the generic host every command runs in: configuration from appsettings.json, KOMMUNE_ environment
/// variables and command-line values (in rising precedence), console logs (JSON lines or single-line text), and
/// Ctrl+C / SIGTERM handling with a graceful stop.
/// </summary>
internal static class EngineHost
{
    public const string EnvironmentPrefix = "KOMMUNE_";

    /// <param name="commandLineValues">Values given on the command line, under their configuration keys.</param>
    /// <param name="defaultLogFormat">The log format when LogFormat is not set: json for the engine, text for the demo and tools.</param>
    public static HostApplicationBuilder CreateBuilder(IReadOnlyDictionary<string, string?> commandLineValues, string defaultLogFormat = "text")
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            Args = [],
            ApplicationName = "kommune",
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Configuration.AddEnvironmentVariables(EnvironmentPrefix);
        builder.Configuration.AddInMemoryCollection(commandLineValues.Where(kv => kv.Value is not null));
        var options = BindOptions(builder.Configuration);
        builder.Logging.ClearProviders();
        if ((options.LogFormat ?? defaultLogFormat) == "json")
        {
            // One JSON object per line: timestamp, level, category, event id, message and its structured values.
            builder.Logging.AddJsonConsole(o =>
            {
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
                // Names and messages as written (æøå, quotes), not as \u escapes: these lines are read by people too.
                o.JsonWriterOptions = new System.Text.Json.JsonWriterOptions
                {
                    Indented = false,
                    Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
                };
            });
        }
        else
        {
            builder.Logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss ";
            });
        }

        builder.Services.AddSingleton(options);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.ShutdownTimeout + TimeSpan.FromSeconds(15));
        return builder;
    }

    public static EngineOptions BindOptions(IConfiguration configuration)
    {
        var options = new EngineOptions();
        // Kafka Streams spells the guarantee "exactly-once" / "at-least-once"; the enum's names work too.
        if (configuration[nameof(EngineOptions.ProcessingGuarantee)] is { } guarantee)
        {
            var normalized = guarantee.Replace("-", "", StringComparison.Ordinal).Replace("_", "", StringComparison.Ordinal).ToUpperInvariant() switch
            {
                "EXACTLYONCE" => nameof(ProcessingGuarantee.ExactlyOnce),
                "ATLEASTONCE" => nameof(ProcessingGuarantee.AtLeastOnce),
                _ => throw new ArgumentException($"Invalid engine configuration: ProcessingGuarantee must be at-least-once or exactly-once, not '{guarantee}'"),
            };
            configuration = new ConfigurationBuilder()
                .AddConfiguration(configuration)
                .AddInMemoryCollection([new(nameof(EngineOptions.ProcessingGuarantee), normalized)])
                .Build();
        }

        configuration.Bind(options);
        return options;
    }
}
