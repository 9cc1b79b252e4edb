using System.Security.Claims;

namespace Kommune.Web.Security;

/// <summary>What the console needs from a logged-in user's claims: who they are and whether they may act.</summary>
internal static class Operator
{
    /// <summary>The claim naming the user in commands' <c>by</c> (the users file's display name, or the provider's name claim).</summary>
    public const string DisplayNameClaim = "kommune:display-name";

    /// <summary>Present (value <c>true</c>) when the user may acknowledge and resolve.</summary>
    public const string CanActClaim = "kommune:can-act";

    /// <summary>The policy of the endpoints that write commands.</summary>
    public const string ActPolicy = "act";

    /// <summary>The login name (the audit log's "who").</summary>
    public static string LoginName(ClaimsPrincipal user) => user.Identity?.Name ?? "(unknown)";

    /// <summary>The name written as <c>by</c> in commands.</summary>
    public static string DisplayName(ClaimsPrincipal user) => user.FindFirstValue(DisplayNameClaim) is { Length: > 0 } name ? name : LoginName(user);

    public static bool CanAct(ClaimsPrincipal user) => user.HasClaim(CanActClaim, "true");

    /// <summary>The identity a users-file login signs in with.</summary>
    public static ClaimsPrincipal From(ConsoleUser user, string authenticationType)
    {
        var claims = new List<Claim> { new(ClaimTypes.Name, user.Name), new(DisplayNameClaim, user.DisplayName ?? user.Name) };
        claims.AddRange(user.Roles.Select(r => new Claim(ClaimTypes.Role, r)));
        if (user.Roles.Contains(UsersFile.OperatorRole))
        {
            claims.Add(new Claim(CanActClaim, "true"));
        }

        return new ClaimsPrincipal(new ClaimsIdentity(claims, authenticationType, ClaimTypes.Name, ClaimTypes.Role));
    }
}
