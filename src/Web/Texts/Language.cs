using Microsoft.Net.Http.Headers;

namespace Kommune.Web.Texts;

/// <summary>The page language, chosen from the browser's Accept-Language: Norwegian bokmål or English.</summary>
internal static class Language
{
    public const string Bokmal = "nb";
    public const string English = "en";

    /// <summary>
    /// The first language in the header (by quality, then order) that the console has: <c>nb</c>, <c>no</c> and
    /// <c>nn</c> (bokmål is what a nynorsk reader gets rather than English) give bokmål, <c>en</c> English; none gives English.
    /// </summary>
    public static string Choose(string? acceptLanguage)
    {
        if (string.IsNullOrWhiteSpace(acceptLanguage) || !StringWithQualityHeaderValue.TryParseList(acceptLanguage.Split(','), out var languages))
        {
            return English;
        }

        foreach (var language in languages.Select((l, i) => (l, i)).OrderByDescending(x => x.l.Quality ?? 1).ThenBy(x => x.i).Select(x => x.l))
        {
            if (language.Quality == 0)
            {
                continue;
            }

            var primary = language.Value.Value?.Split('-')[0].ToLowerInvariant();
            switch (primary)
            {
                case "nb" or "no" or "nn":
                    return Bokmal;
                case "en":
                    return English;
            }
        }

        return English;
    }
}
