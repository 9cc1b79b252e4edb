using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.RegularExpressions;
using Kommune.Rules.Api;
using Kommune.Rules.BuiltIn;
using Kommune.Rules.Testing;
using PublicApiGenerator;

namespace Kommune.Rules.Tests.PublicApi;

/// <summary>
/// The public surface of the rule SDK is a promise to plugin authors: each assembly's public API, rendered as C#, must
/// equal its approved file in this folder. A change of the surface fails here until the approved file is updated in the
/// same commit, so it is always a diff a reviewer sees (docs/rules.md, "The public surface").
/// </summary>
public sealed partial class PublicApiTests
{
    private const string FolderInRepository = "tests/Rules.Tests/PublicApi";

    [Fact]
    public void Kommune_Rules_public_API_is_the_approved_one() => Approve(typeof(Rule).Assembly);

    [Fact]
    public void Kommune_Rules_Testing_public_API_is_the_approved_one() => Approve(typeof(RuleTestKit).Assembly);

    [Fact]
    public void The_built_in_rules_are_built_on_the_public_surface_of_Kommune_Rules_alone()
    {
        var kommuneReferences = typeof(FallAlertRule).Assembly.GetReferencedAssemblies()
            .Select(a => a.Name!).Where(n => n.StartsWith("Kommune.", StringComparison.Ordinal));
        Assert.Equal(["Kommune.Rules"], kommuneReferences);
        Assert.DoesNotContain(
            typeof(Rule).Assembly.GetCustomAttributes<InternalsVisibleToAttribute>(),
            a => a.AssemblyName.StartsWith(typeof(FallAlertRule).Assembly.GetName().Name!, StringComparison.Ordinal));
    }

    [Fact]
    public void The_guide_lists_every_public_type_and_no_other()
    {
        var guide = File.ReadAllText(Path.Combine(ApprovedFolder(), "..", "..", "..", "docs", "rules.md")).ReplaceLineEndings("\n");
        var start = guide.IndexOf("### The public surface\n", StringComparison.Ordinal);
        Assert.True(start >= 0, "docs/rules.md has no section \"The public surface\".");
        var end = guide.IndexOf("\n### ", start + 1, StringComparison.Ordinal);
        var listed = ListedType().Matches(guide[start..(end < 0 ? guide.Length : end)]).Select(m => m.Groups[1].Value).ToList();
        var exported = typeof(Rule).Assembly.GetExportedTypes().Concat(typeof(RuleTestKit).Assembly.GetExportedTypes())
            .Select(t => t.IsGenericType ? $"{t.Name[..t.Name.IndexOf('`', StringComparison.Ordinal)]}<{string.Join(", ", t.GetGenericArguments().Select(a => a.Name))}>" : t.Name)
            .ToList();
        var missing = exported.Except(listed, StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var extra = listed.Except(exported, StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        Assert.True(
            missing.Count == 0 && extra.Count == 0,
            $"docs/rules.md, \"The public surface\", lists one line \"- `Type`: ...\" per public type. Add: {string.Join(", ", missing)}. Remove: {string.Join(", ", extra)}.");
        Assert.Equal(listed.Count, listed.Distinct(StringComparer.Ordinal).Count());
    }

    [GeneratedRegex(@"^- `([^`]+)`:", RegexOptions.Multiline)]
    private static partial Regex ListedType();

    private static void Approve(Assembly assembly)
    {
        var name = assembly.GetName().Name!;
        var received = Normalise(assembly.GeneratePublicApi());
        var folder = ApprovedFolder();
        var approvedPath = Path.Combine(folder, $"{name}.approved.txt");
        var receivedPath = Path.Combine(folder, $"{name}.received.txt");
        var approved = File.Exists(approvedPath) ? Normalise(File.ReadAllText(approvedPath)) : null;
        if (approved == received)
        {
            File.Delete(receivedPath);
            return;
        }

        File.WriteAllText(receivedPath, received);
        var approvedFile = $"{FolderInRepository}/{name}.approved.txt";
        var receivedFile = $"{FolderInRepository}/{name}.received.txt";
        Assert.Fail(approved is null
            ? $"{name} has no approved public API: {approvedFile} is missing. The API as built is in {receivedFile}; " +
              $"if it is right, rename it to {name}.approved.txt and commit it."
            : $"The public API of {name} is not the approved one ({approvedFile}). If the change is intended, copy " +
              $"{receivedFile} (written now) over {approvedFile} and commit it with the change; docs/rules.md lists the " +
              $"surface too. Otherwise make the change internal.{Environment.NewLine}{Difference(approved, received)}");
    }

    /// <summary>
    /// This test's folder in the working copy: from the compiler's path of this file, or else (a build that maps source
    /// paths) the first folder above the test's output that holds it.
    /// </summary>
    private static string ApprovedFolder([CallerFilePath] string sourceFile = "")
    {
        var fromSource = Path.GetDirectoryName(sourceFile);
        if (!string.IsNullOrEmpty(fromSource) && Directory.Exists(fromSource))
        {
            return fromSource;
        }

        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            var candidate = Path.Combine(folder.FullName, FolderInRepository);
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException($"{FolderInRepository} was found neither at '{sourceFile}' nor above '{AppContext.BaseDirectory}'.");
    }

    /// <summary>One line ending (\n), no trailing spaces, one final newline: the same text on every platform and checkout.</summary>
    private static string Normalise(string text) =>
        string.Join('\n', text.ReplaceLineEndings("\n").Split('\n').Select(line => line.TrimEnd())).Trim('\n') + "\n";

    /// <summary>The lines only the approved API has and those only the received one has, a few of each.</summary>
    private static string Difference(string approved, string received)
    {
        const int Shown = 20;
        var approvedLines = approved.Split('\n');
        var receivedLines = received.Split('\n');
        var removed = approvedLines.Except(receivedLines, StringComparer.Ordinal).ToList();
        var added = receivedLines.Except(approvedLines, StringComparer.Ordinal).ToList();
        var text = new StringBuilder();
        foreach (var (sign, lines) in new[] { ("- ", removed), ("+ ", added) })
        {
            foreach (var line in lines.Take(Shown))
            {
                text.Append(sign).AppendLine(line.Trim());
            }

            if (lines.Count > Shown)
            {
                text.Append(sign).AppendLine($"... and {lines.Count - Shown} more");
            }
        }

        return text.Length == 0 ? "(the same lines in another order)" : text.ToString();
    }
}
