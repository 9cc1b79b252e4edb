namespace Kommune.Rules.Api;

/// <summary>Reads time zones and daily periods from a rule's parameters, with errors that name the parameter.</summary>
public static class CalendarParameters
{
    /// <summary>
    /// A time zone by its IANA id, such as <c>"Europe/Oslo"</c> or <c>"UTC"</c>; <paramref name="fallback"/> when absent,
    /// an error when absent without one.
    /// </summary>
    /// <exception cref="RuleParameterException">Absent without a fallback, not a text, or no time zone has that id.</exception>
    public static TimeZoneInfo GetTimeZone(this RuleParameters parameters, string name, string? fallback = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var id = parameters.GetText(name, fallback);
        return TimeZoneInfo.TryFindSystemTimeZoneById(id, out var timeZone)
            ? timeZone
            : throw new RuleParameterException(name, $"must be a time zone id such as \"Europe/Oslo\", not \"{id}\"");
    }

    /// <summary>
    /// A daily period such as <c>"22:00-06:00"</c> in <paramref name="timeZone"/> (<see cref="DailyPeriod.Parse(string, TimeZoneInfo)"/>);
    /// <paramref name="fallback"/> when absent, an error when absent without one.
    /// </summary>
    /// <exception cref="RuleParameterException">Absent without a fallback, or not two times.</exception>
    public static DailyPeriod GetDailyPeriod(this RuleParameters parameters, string name, TimeZoneInfo timeZone, string? fallback = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var text = parameters.GetText(name, fallback);
        try
        {
            return DailyPeriod.Parse(text, timeZone);
        }
        catch (FormatException)
        {
            throw new RuleParameterException(name, $"must be a daily period such as \"22:00-06:00\", not \"{text}\"");
        }
    }
}
