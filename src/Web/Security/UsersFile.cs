using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kommune.Web.Security;

/// <summary>One operator in the users file.</summary>
/// <param name="Name">The login name.</param>
/// <param name="DisplayName">The name written as <c>by</c> in commands (for example "nurse Kari"); the login name when absent.</param>
/// <param name="Roles"><c>operator</c> may acknowledge and resolve; <c>viewer</c> may only look.</param>
/// <param name="Password">The salted PBKDF2 hash (<see cref="PasswordHash"/>), never the password.</param>
public sealed record ConsoleUser(string Name, string? DisplayName, IReadOnlyList<string> Roles, string Password);

/// <summary>
/// The users file: <c>{"users":[{"name":"kari","displayName":"nurse Kari","roles":["operator"],"password":"pbkdf2-sha256$…"}]}</c>.
/// It is read at every login, so users added or removed take effect without a restart.
/// </summary>
public static class UsersFile
{
    /// <summary>The role that may acknowledge and resolve.</summary>
    public const string OperatorRole = "operator";

    /// <summary>The role that may only look.</summary>
    public const string ViewerRole = "viewer";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>The users in <paramref name="path"/>; none when the file does not exist.</summary>
    /// <exception cref="InvalidDataException">The file is not a users file; the message says why.</exception>
    public static IReadOnlyList<ConsoleUser> Read(string path)
    {
        if (!File.Exists(path))
        {
            return [];
        }

        try
        {
            var file = JsonSerializer.Deserialize<FileShape>(File.ReadAllText(path), Json);
            var users = file?.Users ?? [];
            foreach (var user in users)
            {
                if (string.IsNullOrWhiteSpace(user.Name) || string.IsNullOrEmpty(user.Password))
                {
                    throw new InvalidDataException($"{path}: every user needs a name and a password hash");
                }
            }

            return users;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} is not a users file: {e.Message}", e);
        }
    }

    /// <summary>Adds a user, or replaces the one with the same name, hashing <paramref name="password"/>; creates the file if needed.</summary>
    public static void AddOrReplace(string path, string name, string? displayName, IReadOnlyList<string> roles, string password)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(roles);
        foreach (var role in roles)
        {
            if (role is not (OperatorRole or ViewerRole))
            {
                throw new ArgumentException($"A role is {OperatorRole} or {ViewerRole}, not '{role}'", nameof(roles));
            }
        }

        var users = Read(path).Where(u => u.Name != name).Append(new ConsoleUser(name, displayName, roles, PasswordHash.Create(password))).ToList();
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        var partial = path + ".partial";
        File.WriteAllText(partial, JsonSerializer.Serialize(new FileShape(users), Json));
        if (!OperatingSystem.IsWindows())
        {
            // Hashes only, but still nobody else's business.
            File.SetUnixFileMode(partial, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        File.Move(partial, path, overwrite: true);
    }

    /// <summary>The user whose name and password match, or null; spends the same time when the name is unknown.</summary>
    internal static ConsoleUser? Verify(string path, string name, string password)
    {
        var user = Read(path).FirstOrDefault(u => string.Equals(u.Name, name, StringComparison.Ordinal));
        var matches = PasswordHash.Verify(password, user?.Password ?? PasswordHash.Decoy);
        return user is not null && matches ? user : null;
    }

    private sealed record FileShape(List<ConsoleUser> Users);
}
