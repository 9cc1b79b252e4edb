using System.Text.RegularExpressions;
using Kommune.Web.Endpoints;
using Kommune.Web.Security;
using Kommune.Web.Texts;

namespace Kommune.Web.Tests;

/// <summary>Passwords, the users file, and the texts of both languages.</summary>
public sealed partial class UsersAndTextsTests
{
    [Fact]
    public void A_password_hash_is_salted_PBKDF2_and_only_the_same_password_verifies()
    {
        var first = PasswordHash.Create("correct horse battery");
        var second = PasswordHash.Create("correct horse battery");

        Assert.StartsWith($"pbkdf2-sha256${PasswordHash.Iterations}$", first, StringComparison.Ordinal);
        Assert.NotEqual(first, second);
        Assert.True(PasswordHash.Verify("correct horse battery", first));
        Assert.False(PasswordHash.Verify("correct horse batterY", first));
        Assert.False(PasswordHash.Verify("x", "pbkdf2-sha256$1$not base64$x"));
        Assert.False(PasswordHash.Verify("x", "plain text"));
    }

    [Fact]
    public void The_users_file_keeps_hashes_only_and_a_user_added_again_is_replaced()
    {
        var file = Path.Combine(Directory.CreateTempSubdirectory().FullName, "users.json");
        UsersFile.AddOrReplace(file, "kari", "nurse Kari", [UsersFile.OperatorRole], "first password");
        UsersFile.AddOrReplace(file, "kari", "nurse Kari", [UsersFile.ViewerRole], "second password");

        var kari = Assert.Single(UsersFile.Read(file));
        Assert.Equal([UsersFile.ViewerRole], kari.Roles);
        Assert.DoesNotContain("second password", File.ReadAllText(file), StringComparison.Ordinal);
        Assert.Null(UsersFile.Verify(file, "kari", "first password"));
        Assert.NotNull(UsersFile.Verify(file, "kari", "second password"));
        Assert.Null(UsersFile.Verify(file, "nobody", "second password"));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        }

        Assert.Throws<ArgumentException>(() => UsersFile.AddOrReplace(file, "x", null, ["admin"], "password 123"));
    }

    [Theory]
    [InlineData("nb-NO,nb;q=0.9,en;q=0.8", "nb")]
    [InlineData("nn-NO", "nb")]
    [InlineData("no", "nb")]
    [InlineData("en-GB,en;q=0.9", "en")]
    [InlineData("de-DE,en;q=0.5,nb;q=0.7", "nb")]
    [InlineData("sv-SE", "en")]
    [InlineData("nb;q=0, en", "en")]
    [InlineData("", "en")]
    public void The_language_is_the_browser_s_first_of_bokmal_and_english(string acceptLanguage, string expected) =>
        Assert.Equal(expected, Language.Choose(acceptLanguage));

    [Fact]
    public void Both_languages_have_every_text_the_pages_and_scripts_use()
    {
        Assert.Equal(PageTexts.English.Keys.Order(), PageTexts.Bokmal.Keys.Order());
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in Pages.ResourceNames)
        {
            var text = Pages.Text(name);
            used.UnionWith(TemplateKey().Matches(text).Select(m => m.Groups[1].Value));
            used.UnionWith(ScriptKey().Matches(text).Select(m => m.Groups[1].Value));
        }

        Assert.NotEmpty(used);
        Assert.DoesNotContain(used, k => !PageTexts.English.ContainsKey(k));
    }

    [GeneratedRegex(@"\{\{t:(\w+)\}\}")]
    private static partial Regex TemplateKey();

    [GeneratedRegex(@"\bT\.(\w+)")]
    private static partial Regex ScriptKey();
}
