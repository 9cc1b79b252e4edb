using Kommune.Rules.Api;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Kommune.Engine.Tests.Plugins;

/// <summary>
/// Builds a rule plugin from C# source at test time (Roslyn, against this process's framework and Kommune.Rules), as
/// <c>dotnet build -o plugins/NAME</c> would leave it: one assembly per build, so a test can rebuild a plugin with a
/// change and swap it in.
/// </summary>
internal static class PluginCompiler
{
    private static readonly Lazy<MetadataReference[]> References = new(() =>
    [
        .. ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(path => Path.GetFileName(path).StartsWith("System.", StringComparison.Ordinal) || Path.GetFileName(path) is "netstandard.dll" or "mscorlib.dll")
            .Select(path => MetadataReference.CreateFromFile(path)),
        MetadataReference.CreateFromFile(typeof(Rule).Assembly.Location),
    ]);

    /// <summary>Compiles <paramref name="source"/> into <c>&lt;folder&gt;/&lt;assemblyName&gt;.dll</c>, replacing what is there.</summary>
    public static void Build(string folder, string assemblyName, string source)
    {
        var compilation = CSharpCompilation.Create(
            assemblyName,
            [CSharpSyntaxTree.ParseText(source, new CSharpParseOptions(LanguageVersion.Latest))],
            References.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        using var image = new MemoryStream();
        var result = compilation.Emit(image);
        Assert.True(result.Success, string.Join(Environment.NewLine, result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error)));
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, assemblyName + ".dll"), image.ToArray());
    }
}
