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
        configuration.Bind(options);
        return options;
    }
}
