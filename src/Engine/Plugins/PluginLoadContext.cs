using System.Reflection;
using System.Runtime.Loader;
using Kommune.Rules.Api;

namespace Kommune.Engine.Plugins;

/// <summary>
/// The collectible load context of one plugin. The plugin's own dependencies resolve through its <c>.deps.json</c>
/// (<see cref="AssemblyDependencyResolver"/>) and load from bytes, so the files can be replaced while loaded;
/// Kommune.Rules and the framework come from the default context, so <see cref="Rule"/> is one shared type.
/// </summary>
internal sealed class PluginLoadContext : AssemblyLoadContext
{
    private static readonly HashSet<string> Shared = SharedAssemblyNames();
    private readonly AssemblyDependencyResolver _resolver;

    public PluginLoadContext(string name, string mainAssemblyPath)
        : base($"plugin:{name}", isCollectible: true)
    {
        _resolver = new AssemblyDependencyResolver(mainAssemblyPath);
    }

    /// <summary>Loads an assembly of the plugin from its bytes (and its symbols, when present).</summary>
    public Assembly LoadFromBytes(string path)
    {
        using var assembly = new MemoryStream(File.ReadAllBytes(path));
        var pdbPath = Path.ChangeExtension(path, ".pdb");
        using var symbols = File.Exists(pdbPath) ? new MemoryStream(File.ReadAllBytes(pdbPath)) : null;
        return LoadFromStream(assembly, symbols);
    }

    protected override Assembly? Load(AssemblyName assemblyName)
    {
        if (assemblyName.Name is null || Shared.Contains(assemblyName.Name))
        {
            return null;
        }

        return _resolver.ResolveAssemblyToPath(assemblyName) is { } path ? LoadFromBytes(path) : null;
    }

    protected override IntPtr LoadUnmanagedDll(string unmanagedDllName) =>
        _resolver.ResolveUnmanagedDllToPath(unmanagedDllName) is { } path ? LoadUnmanagedDllFromPath(path) : IntPtr.Zero;

    /// <summary>Kommune.Rules and every assembly of the shared framework the host runs on.</summary>
    private static HashSet<string> SharedAssemblyNames()
    {
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { typeof(Rule).Assembly.GetName().Name! };
        var framework = Path.GetDirectoryName(typeof(object).Assembly.Location);
        if (AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") is string trusted && !string.IsNullOrEmpty(framework))
        {
            foreach (var path in trusted.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            {
                if (string.Equals(Path.GetDirectoryName(path), framework, StringComparison.Ordinal))
                {
                    names.Add(Path.GetFileNameWithoutExtension(path));
                }
            }
        }

        return names;
    }
}
