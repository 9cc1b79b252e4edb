using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kommune.Engine.Hosting;

/// <summary>
/// Builds the generic host every command runs in: configuration from appsettings.json, KOMMUNE_ environment
/// variables and command-line values (in rising precedence), single-line console logs, and Ctrl+C / SIGTERM
/// handling with a graceful stop.
/// </summary>
internal static class EngineHost
{
    public const string EnvironmentPrefix = "KOMMUNE_";

    public static HostApplicationBuilder CreateBuilder(IReadOnlyDictionary<string, string?> commandLineValues)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            Args = [],
            ApplicationName = "kommune",
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Configuration.AddEnvironmentVariables(EnvironmentPrefix);
        builder.Configuration.AddInMemoryCollection(commandLineValues.Where(kv => kv.Value is not null));
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss ";
        });

        var options = BindOptions(builder.Configuration);
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
