using System.CommandLine;
using Kommune.Engine.Hosting;
using Kommune.Web;
using Kommune.Web.Security;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Kommune.Engine.Cli;

/// <summary>
/// <c>kommune console</c>: the operations centre's console and the citizens' page (src/Web) against a Kafka
/// cluster; <c>kommune console add-user</c> writes the users file; and the demo's console with its demo operator.
/// </summary>
internal static class ConsoleCommandLine
{
    /// <summary>The demo operator's login, printed by the demo: for the demo only, production reads a users file.</summary>
    public const string DemoUser = "operator";

    /// <summary>The demo operator's password.</summary>
    public const string DemoPassword = "kommune-demo";

    private static readonly Option<string?> Urls = new("--urls")
    {
        Description = "Where the console listens, ;-separated (config key Console:Urls; default http://127.0.0.1:8080). HTTPS: configure Console:Kestrel (README).",
    };

    private static readonly Option<string?> Users = new("--users")
    {
        Description = "The users file with salted PBKDF2 hashes (config key Console:UsersFile); kommune console add-user writes it.",
    };

    private static readonly Option<string?> AuditLog = new("--audit-log")
    {
        Description = "The audit log: one JSON line per operator action and opening of an alert (config key Console:AuditLog; default kommune-console-audit.jsonl).",
    };

    private static readonly Option<string> UsersFileToWrite = new("--users")
    {
        Description = "The users file to create or update.",
        Required = true,
    };

    private static readonly Option<string> UserName = new("--name")
    {
        Description = "The login name.",
        Required = true,
    };

    private static readonly Option<string?> DisplayName = new("--display-name")
    {
        Description = "The name written as 'by' in acknowledgements, for example \"nurse Kari\" (default: the login name).",
    };

    private static readonly Option<string> Role = new("--role")
    {
        Description = "operator (may acknowledge and resolve) or viewer (may only look).",
        DefaultValueFactory = _ => UsersFile.OperatorRole,
    };

    static ConsoleCommandLine()
    {
        Role.AcceptOnlyFromAmong(UsersFile.OperatorRole, UsersFile.ViewerRole);
    }

    public static Command Build(Option<string> bootstrapServers)
    {
        var addUser = new Command("add-user", "Add a user to the console's users file, or change one; reads the password from standard input.")
        {
            UsersFileToWrite, UserName, DisplayName, Role,
        };
        addUser.SetAction(AddUser);
        var console = new Command("console", "Run the operations centre's console (live alerts, acknowledgement, audit) and the citizens' page against a Kafka cluster.")
        {
            bootstrapServers, Urls, Users, AuditLog, addUser,
        };
        console.SetAction((parse, cancellationToken) =>
        {
            var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase) { ["BootstrapServers"] = parse.GetValue(bootstrapServers) };
            Set(values, "Console:Urls", parse.GetValue(Urls));
            Set(values, "Console:UsersFile", parse.GetValue(Users) is { } users ? Path.GetFullPath(users) : null);
            Set(values, "Console:AuditLog", parse.GetValue(AuditLog) is { } audit ? Path.GetFullPath(audit) : null);
            var builder = EngineHost.CreateBuilder(values);
            AddConsole(builder, banner: null, fallBackToFreePort: false);
            return KommuneCommandLine.RunHostAsync(builder, cancellationToken);
        });
        return console;
    }

    /// <summary>
    /// Adds the console to the demo: http://127.0.0.1:8080 (or a free port, said so, when that one is taken), the
    /// demo operator in a users file of its own, the audit log beside it.
    /// </summary>
    public static void AddDemoConsole(HostApplicationBuilder builder)
    {
        var folder = Path.Combine(Path.GetTempPath(), $"kommune-demo-console-{Environment.ProcessId}");
        var usersFile = Path.Combine(folder, "users.json");
        var defaults = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        if (builder.Configuration["Console:UsersFile"] is null)
        {
            UsersFile.AddOrReplace(usersFile, DemoUser, "demo operator", [UsersFile.OperatorRole], DemoPassword);
            defaults["Console:UsersFile"] = usersFile;
        }

        if (builder.Configuration["Console:AuditLog"] is null)
        {
            defaults["Console:AuditLog"] = Path.Combine(folder, "audit.jsonl");
        }

        if (builder.Configuration["Console:EphemeralKeys"] is null && builder.Configuration["Console:KeysFolder"] is null)
        {
            defaults["Console:EphemeralKeys"] = "true";
        }

        builder.Configuration.AddInMemoryCollection(defaults);
        AddConsole(
            builder,
            $"Demo operator login: {DemoUser} / {DemoPassword} (the demo only: production reads a users file, see the README's section for operations centres)",
            fallBackToFreePort: true);
    }

    private static void AddConsole(HostApplicationBuilder builder, string? banner, bool fallBackToFreePort)
    {
        var engine = EngineHost.BindOptions(builder.Configuration);
        var options = new ConsoleOptions();
        builder.Configuration.GetSection(ConsoleOptions.Section).Bind(options);
        builder.Services.AddSingleton(new ConsoleSettings(
            options,
            new ConsoleKafka(engine.BootstrapServers, engine.ToKafkaTopics(), engine.ToKafkaClientSettings()),
            builder.Configuration.GetSection(ConsoleOptions.Section + ":Kestrel"),
            banner,
            fallBackToFreePort));
        builder.Services.AddHostedService<ConsoleService>();
    }

    private static int AddUser(ParseResult parse)
    {
        var name = parse.GetValue(UserName)!;
        if (!Console.IsInputRedirected)
        {
            Console.Write($"Password for {name}: ");
        }

        var password = ReadPassword();
        if (string.IsNullOrEmpty(password) || password.Length < 10)
        {
            parse.InvocationConfiguration.Error.WriteLine("The password must have at least 10 characters.");
            return 2;
        }

        var file = Path.GetFullPath(parse.GetValue(UsersFileToWrite)!);
        UsersFile.AddOrReplace(file, name, parse.GetValue(DisplayName), [parse.GetValue(Role)!], password);
        parse.InvocationConfiguration.Output.WriteLine($"{name} ({parse.GetValue(Role)}) is in {file}");
        return 0;
    }

    /// <summary>One line from standard input; typed without echo at a terminal.</summary>
    private static string? ReadPassword()
    {
        if (Console.IsInputRedirected)
        {
            return Console.ReadLine();
        }

        var password = new System.Text.StringBuilder();
        while (Console.ReadKey(intercept: true) is var key && key.Key != ConsoleKey.Enter)
        {
            if (key.Key == ConsoleKey.Backspace)
            {
                password.Length = Math.Max(0, password.Length - 1);
            }
            else if (!char.IsControl(key.KeyChar))
            {
                password.Append(key.KeyChar);
            }
        }

        Console.WriteLine();
        return password.ToString();
    }

    private static void Set(Dictionary<string, string?> values, string key, string? value)
    {
        if (value is not null)
        {
            values[key] = value;
        }
    }
}
