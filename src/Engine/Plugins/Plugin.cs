using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Security.Cryptography;
using System.Text;
using Kommune.Rules.Api;

namespace Kommune.Engine.Plugins;

/// <summary>
/// One subfolder of the plugins folder: loaded into its own collectible context with the [Rule] types it holds,
/// or failed with the reason. Its hash (SHA-256 of the folder's .dll files) tells whether a reload may keep it.
/// </summary>
internal sealed class Plugin
{
    private Plugin(string name, string hash, PluginLoadContext? context, IReadOnlyDictionary<string, Type> rules, string? failure)
    {
        Name = name;
        Hash = hash;
        Context = context;
        Rules = rules;
        Failure = failure;
    }

    /// <summary>The folder's name, which rules files use in their <c>plugin</c> field.</summary>
    public string Name { get; }

    /// <summary>SHA-256 of the folder's .dll files (names and contents).</summary>
    public string Hash { get; }

    /// <summary>The plugin's load context; null when it failed.</summary>
    public PluginLoadContext? Context { get; }

    /// <summary>Its [Rule] types by rule name.</summary>
    public IReadOnlyDictionary<string, Type> Rules { get; }

    /// <summary>Why it failed to load, or null.</summary>
    public string? Failure { get; }

    /// <summary>
    /// Loads the plugin in <paramref name="folder"/> (whose .dll files hash to <paramref name="hash"/>); never throws:
    /// a failure is returned as a failed plugin.
    /// </summary>
    public static Plugin Load(string folder, string hash)
    {
        var name = Path.GetFileName(folder);
        PluginLoadContext? context = null;
        try
        {
            var main = MainAssembly(folder, name);
            context = new PluginLoadContext(name, main);
            var rules = new Dictionary<string, Type>(StringComparer.Ordinal);
            foreach (var type in context.LoadFromBytes(main).GetTypes())
            {
                if (type.GetCustomAttribute<RuleAttribute>(inherit: false) is not { } attribute)
                {
                    continue;
                }

                if (!typeof(Rule).IsAssignableFrom(type) || type.IsAbstract || type.ContainsGenericParameters)
                {
                    throw new InvalidDataException($"{type.FullName} has [Rule(\"{attribute.Name}\")] but is not a concrete Rule class");
                }

                if (Constructor(type) is null)
                {
                    throw new InvalidDataException($"rule type {type.FullName} has no public constructor taking RuleParameters or nothing");
                }

                if (!rules.TryAdd(attribute.Name, type))
                {
                    throw new InvalidDataException($"two rule types are named '{attribute.Name}': {rules[attribute.Name].FullName} and {type.FullName}");
                }
            }

            if (rules.Count == 0)
            {
                throw new InvalidDataException($"{Path.GetFileName(main)} holds no [Rule] types");
            }

            return new Plugin(name, hash, context, rules, null);
        }
#pragma warning disable CA1031 // A plugin that fails to load, for whatever reason, is isolated and reported.
        catch (Exception e)
#pragma warning restore CA1031
        {
            context?.Unload();
            return Failed(name, hash, Describe(e));
        }
    }

    /// <summary>The public constructor taking <see cref="RuleParameters"/>, else the public parameterless one, else null.</summary>
    public static ConstructorInfo? Constructor(Type type) =>
        type.GetConstructor([typeof(RuleParameters)]) ?? type.GetConstructor(Type.EmptyTypes);

    /// <summary>An exception as a one-line reason; a type load failure lists what could not be loaded.</summary>
    public static string Describe(Exception exception) => OneLine(exception switch
    {
        InvalidDataException => exception.Message,
        BadImageFormatException => $"not a .NET assembly ({exception.Message})",
        ReflectionTypeLoadException types => $"its types cannot be loaded: {string.Join("; ", types.LoaderExceptions.OfType<Exception>().Select(e => OneLine(e.Message)).Distinct())}",
        _ => $"{exception.GetType().Name}: {exception.Message}",
    });

    /// <summary>The text on one line, so each problem and error stays one line.</summary>
    public static string OneLine(string text) =>
        string.Join(' ', (text ?? "").Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    /// <summary>Unloads its context; the assemblies go once nothing uses their types any more.</summary>
    public void Unload() => Context?.Unload();

    /// <summary>A plugin that failed to load for <paramref name="reason"/>.</summary>
    public static Plugin Failed(string name, string hash, string reason) =>
        new(name, hash, null, new Dictionary<string, Type>(), reason);

    /// <summary>SHA-256 over the names and contents of the folder's .dll files, in name order.</summary>
    public static string HashOf(string folder)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in Directory.GetFiles(folder, "*.dll", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var bytes = File.ReadAllBytes(file);
            sha.AppendData(Encoding.UTF8.GetBytes($"{Path.GetRelativePath(folder, file).Replace('\\', '/')}\n{bytes.LongLength}\n"));
            sha.AppendData(bytes);
        }

        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary><c>&lt;folder&gt;/&lt;folder&gt;.dll</c>, else the single .dll of the folder that holds [Rule] types.</summary>
    private static string MainAssembly(string folder, string name)
    {
        var named = Path.Combine(folder, name + ".dll");
        if (File.Exists(named))
        {
            return named;
        }

        var holding = Directory.GetFiles(folder, "*.dll").Order(StringComparer.Ordinal).Where(HoldsRules).ToList();
        return holding.Count switch
        {
            1 => holding[0],
            0 => throw new InvalidDataException($"no {name}.dll and no .dll with [Rule] types"),
            _ => throw new InvalidDataException($"no {name}.dll and several .dlls with [Rule] types: {string.Join(", ", holding.Select(Path.GetFileName))}"),
        };
    }

    /// <summary>Whether the file is a .NET assembly using <see cref="RuleAttribute"/>, read from metadata without loading it.</summary>
    private static bool HoldsRules(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            using var pe = new PEReader(stream);
            if (!pe.HasMetadata)
            {
                return false;
            }

            var metadata = pe.GetMetadataReader();
            foreach (var handle in metadata.CustomAttributes)
            {
                var constructor = metadata.GetCustomAttribute(handle).Constructor;
                if (constructor.Kind == HandleKind.MemberReference
                    && metadata.GetMemberReference((MemberReferenceHandle)constructor).Parent is { Kind: HandleKind.TypeReference } parent)
                {
                    var type = metadata.GetTypeReference((TypeReferenceHandle)parent);
                    if (metadata.StringComparer.Equals(type.Name, nameof(RuleAttribute))
                        && metadata.StringComparer.Equals(type.Namespace, typeof(RuleAttribute).Namespace!))
                    {
                        return true;
                    }
                }
            }

            return false;
        }
        catch (BadImageFormatException)
        {
            return false;
        }
    }
}
