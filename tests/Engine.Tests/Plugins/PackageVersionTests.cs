using System.Xml.Linq;
using Kommune.Engine.Tests.Support;

namespace Kommune.Engine.Tests.Plugins;

/// <summary>
/// What is built outside this repository (a rule made from the template, a sample copied out) names its package
/// versions itself; they are the repository's.
/// </summary>
public sealed class PackageVersionTests
{
    private static readonly string Template = Path.Combine("templates", "Kommune.Rules.Templates", "content", "kommune-rule", "Directory.Packages.props");
    private static readonly string Samples = Path.Combine("samples", "Directory.Packages.props");

    [Fact]
    public void A_sample_copied_out_references_the_SDK_of_this_version()
    {
        var version = Property("Kommune.Package.props", "VersionPrefix");

        Assert.Equal(version, Property(Samples, "KommuneRulesVersion"));
    }

    [Fact]
    public void The_template_takes_the_SDK_version_from_its_package()
    {
        Assert.Equal("KOMMUNE_RULES_VERSION", Property(Template, "KommuneRulesVersion"));
        var templateJson = File.ReadAllText(RepositoryFiles.Path("templates", "Kommune.Rules.Templates", "content", "kommune-rule", ".template.config", "template.json"));
        Assert.Contains("\"defaultValue\": \"KOMMUNE_PACKAGE_VERSION\"", templateJson, StringComparison.Ordinal);
        Assert.Contains("\"replaces\": \"KOMMUNE_RULES_VERSION\"", templateJson, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Microsoft.NET.Test.Sdk")]
    [InlineData("xunit")]
    [InlineData("xunit.runner.visualstudio")]
    public void The_template_and_the_samples_use_the_test_packages_of_the_repository(string package)
    {
        var version = PackageVersion("Directory.Packages.props", package);

        Assert.Equal(version, PackageVersion(Template, package));
        Assert.Equal(version, PackageVersion(Samples, package));
    }

    private static string Property(string file, string name) =>
        Assert.Single(XDocument.Load(RepositoryFiles.Path(file)).Descendants(name)).Value;

    private static string PackageVersion(string file, string package) =>
        Assert.Single(XDocument.Load(RepositoryFiles.Path(file)).Descendants("PackageVersion"), e => (string?)e.Attribute("Include") == package)
            .Attribute("Version")!.Value;
}
