using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Kommune.Engine.Tests.Support;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests.Plugins;

/// <summary>
/// The rule SDK as an author gets it (slow: about a minute of builds). Packs Kommune.Rules, Kommune.Rules.Testing
/// and the template package exactly as documented (<c>dotnet pack Kommune.Packages.slnf</c>), installs the template
/// from its .nupkg into a private template hive, makes a rule with <c>dotnet new kommune-rule</c>, builds and tests it
/// against the packed packages through a local package source (no project reference into this repository), and loads
/// it with <c>kommune check-rules</c>; then builds and tests the ColdRoom sample copied out of the repository on the same
/// packages (samples/Directory.Build.props switches its project references to package references).
/// </summary>
/// <remarks>
/// The packing runs on a copy of the SDK's sources in a temporary folder, so its restore and Release build never
/// touch the obj/ and bin/ folders of the build that runs this test. The packages get a version of their own
/// (<c>VersionSuffix</c>), so no older package of the same version in the global packages folder can stand in for
/// them; the test removes them from that folder afterwards. One at a time with the Kafka tests: it takes both cores.
/// </remarks>
[Collection(KafkaLanes.Second)]
public sealed class RuleTemplateTests(ITestOutputHelper output)
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(4);

    /// <summary>What packing needs, relative to the repository's root: the SDK, the template, the build settings.</summary>
    private static readonly string[] PackInputs =
    [
        "Directory.Build.props", "Directory.Packages.props", "Kommune.Package.props", "Kommune.Packages.slnf", "Engine.sln",
        "global.json", ".editorconfig", "src/Rules", "src/Rules.Testing", "templates/Kommune.Rules.Templates",
    ];

    [Fact]
    public async Task A_rule_made_from_the_template_builds_and_tests_against_the_packages_and_loads_in_the_engine()
    {
        var work = Directory.CreateTempSubdirectory("kommune-template-");
        var suffix = $"t{DateTime.UtcNow:yyyyMMddHHmmss}{Guid.NewGuid().ToString("N")[..6]}";
        string? version = null;
        try
        {
            var repository = Path.Combine(work.FullName, "repository");
            var packages = Path.Combine(work.FullName, "packages");
            foreach (var input in PackInputs)
            {
                Copy(RepositoryFiles.Path(input), Path.Combine(repository, input));
            }

            await RunAsync(repository, "dotnet", "pack", "Kommune.Packages.slnf", "-c", "Release", "-o", packages, $"-p:VersionSuffix={suffix}");
            var template = Assert.Single(Directory.GetFiles(packages, "Kommune.Rules.Templates.*.nupkg"));
            version = Path.GetFileNameWithoutExtension(template)["Kommune.Rules.Templates.".Length..];
            Assert.EndsWith($"-{suffix}", version, StringComparison.Ordinal);
            foreach (var package in new[] { "Kommune.Rules", "Kommune.Rules.Testing" })
            {
                Assert.True(File.Exists(Path.Combine(packages, $"{package}.{version}.nupkg")), $"{package}.{version}.nupkg was not packed");
                Assert.True(File.Exists(Path.Combine(packages, $"{package}.{version}.snupkg")), $"{package}.{version}.snupkg was not packed");
            }

            var hive = Path.Combine(work.FullName, "template-hive");
            var rule = Path.Combine(work.FullName, "NightNoise");
            await RunAsync(work.FullName, "dotnet", "new", "install", template, "--debug:custom-hive", hive);
            await RunAsync(work.FullName, "dotnet", "new", "kommune-rule", "-n", "NightNoise", "--debug:custom-hive", hive); // makes NightNoise/

            // The template's default is its own version: the generated projects reference the packages just packed.
            Assert.Contains($"<KommuneRulesVersion>{version}</KommuneRulesVersion>", File.ReadAllText(Path.Combine(rule, "Directory.Packages.props")), StringComparison.Ordinal);
            foreach (var project in Directory.GetFiles(rule, "*.csproj", SearchOption.AllDirectories))
            {
                Assert.DoesNotContain("Kommune.Rules.csproj", File.ReadAllText(project), StringComparison.Ordinal);
            }

            WritePackageSource(rule, packages);

            var tests = await RunAsync(rule, "dotnet", "test");
            Assert.Matches(@"Passed!\s+-\s+Failed:\s+0, Passed:\s+[1-9]", tests);
            var assets = File.ReadAllText(Path.Combine(rule, "src", "NightNoise", "obj", "project.assets.json"));
            Assert.Matches($"\"Kommune\\.Rules/{Regex.Escape(version)}\":\\s*\\{{\\s*\"type\":\\s*\"package\"", assets);

            // As the generated README says: build the plugin into the plugins folder, then let the engine check the rules file.
            await RunAsync(rule, "dotnet", "build", Path.Combine("src", "NightNoise"), "-c", "Release", "-o", Path.Combine("plugins", "NightNoise"), "--no-restore");
            Assert.False(File.Exists(Path.Combine(rule, "plugins", "NightNoise", "Kommune.Rules.dll")), "the plugin ships Kommune.Rules.dll; the engine provides it");
            var check = await RunAsync(rule, "dotnet", Path.Combine(AppContext.BaseDirectory, "kommune.dll"), "check-rules", "--rules", "rules.json", "--plugins", "plugins");
            Assert.Contains("ok  night-noise: NightNoise.NightNoiseRule, Sensor scope, noise, every area", check, StringComparison.Ordinal);

            // A sample copied out of the repository (with samples/Directory.*.props) builds and passes on the packages too.
            var samples = Path.Combine(work.FullName, "samples");
            foreach (var input in new[] { "ColdRoom", "ColdRoom.Tests", "Directory.Build.props", "Directory.Packages.props" })
            {
                Copy(RepositoryFiles.Path("samples", input), Path.Combine(samples, input));
            }

            WritePackageSource(samples, packages);
            var sampleTests = await RunAsync(samples, "dotnet", "test", "ColdRoom.Tests", $"-p:KommuneRulesVersion={version}");
            Assert.Matches(@"Passed!\s+-\s+Failed:\s+0, Passed:\s+[1-9]", sampleTests);
            Assert.Matches($"\"Kommune\\.Rules/{Regex.Escape(version)}\":\\s*\\{{\\s*\"type\":\\s*\"package\"",
                File.ReadAllText(Path.Combine(samples, "ColdRoom", "obj", "project.assets.json")));
        }
        finally
        {
            TryDelete(work.FullName);
            if (version is not null)
            {
                RemoveFromGlobalPackagesFolder(version, "Kommune.Rules", "Kommune.Rules.Testing");
            }
        }
    }

    /// <summary>The packed packages from a local source; everything else (xunit, the test SDK) from the machine's sources.</summary>
    private static void WritePackageSource(string folder, string packages) =>
        File.WriteAllText(Path.Combine(folder, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="kommune-packed" value="{packages}" />
              </packageSources>
            </configuration>
            """);

    /// <summary>Runs a command to its end; fails the test, with everything the command printed, unless it exits 0.</summary>
    private async Task<string> RunAsync(string directory, string command, params string[] args)
    {
        var start = new ProcessStartInfo(command)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        // The SDK that runs this test may have set MSBuild variables for its own build: the commands choose their own.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(name);
        }

        start.Environment["MSBUILDDISABLENODEREUSE"] = "1"; // no build server processes left behind
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";

        var text = new StringBuilder();
        var line = $"{command} {string.Join(' ', args)}";
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Append(text, e.Data);
        process.ErrorDataReceived += (_, e) => Append(text, e.Data);
        var clock = Stopwatch.StartNew();
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var timeout = new CancellationTokenSource(CommandTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"`{line}` in {directory} did not end within {CommandTimeout}. It printed:\n{Text(text)}");
        }

        process.WaitForExit(); // the last lines of output
        output.WriteLine($"$ {line}  ({clock.Elapsed.TotalSeconds:0.0} s, exit {process.ExitCode})");
        if (process.ExitCode != 0)
        {
            Assert.Fail($"`{line}` in {directory} exited {process.ExitCode}. It printed:\n{Text(text)}");
        }

        return Text(text);
    }

    private static void Append(StringBuilder text, string? line)
    {
        if (line is not null)
        {
            lock (text)
            {
                text.AppendLine(line);
            }
        }
    }

    private static string Text(StringBuilder text)
    {
        lock (text)
        {
            return text.ToString();
        }
    }

    /// <summary>Copies a file, or a folder without its bin/ and obj/.</summary>
    private static void Copy(string source, string target)
    {
        if (File.Exists(source))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(source, target);
            return;
        }

        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(source, file);
            if (relative.Split(Path.DirectorySeparatorChar).Any(folder => folder is "bin" or "obj"))
            {
                continue;
            }

            Copy(file, Path.Combine(target, relative));
        }
    }

    /// <summary>The packages of this run's version, restored into the global packages folder, go again.</summary>
    private static void RemoveFromGlobalPackagesFolder(string version, params string[] ids)
    {
        var folder = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        foreach (var id in ids)
        {
            var package = Path.Combine(folder, id.ToLowerInvariant());
            TryDelete(Path.Combine(package, version.ToLowerInvariant()));
            if (Directory.Exists(package) && !Directory.EnumerateFileSystemEntries(package).Any())
            {
                TryDelete(package);
            }
        }
    }

    private static void TryDelete(string folder)
    {
        try
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
        catch (IOException)
        {
            // Left in the temporary folder: nothing reads it again.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
