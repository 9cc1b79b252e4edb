using System.Globalization;

namespace Kommune.Rules.Api;

/// <summary>
/// A period of every day by the clock of a time zone, such as the night from 22:00 to 06:00 in Europe/Oslo: across
/// midnight when it ends before it starts, and by the local clock on the days daylight saving time starts or ends (that
/// night is 7 hours long in March and 9 in October). Keep it as a rule field: it holds no state.
/// </summary>
/// <example>
/// <code>
/// private readonly DailyPeriod _night = DailyPeriod.Parse("22:00-06:00", "Europe/Oslo");
/// ...
/// if (_night.TryGetOccurrence(e.Timestamp, out var night))
///     context.RaiseAlert($"loud-night:{night.Date:yyyy-MM-dd}", draft);   // one alert per night
/// </code>
/// </example>
/// <remarks>
/// A local start or end time the clock skips (02:30 on the day clocks go forward an hour) is taken as the time it would be
/// without the change (03:30); one the clock passes twice (02:30 on the day clocks go back) as its first pass. So each
/// occurrence is one unbroken stretch of time, and the occurrences of successive days never overlap.
/// </remarks>
public sealed class DailyPeriod
{
    /// <summary>A period from <paramref name="start"/> to <paramref name="end"/> (exclusive) each day in <paramref name="timeZone"/>.</summary>
    /// <param name="start">The local time it starts.</param>
    /// <param name="end">The local time it ends, the next day when it is not after <paramref name="start"/>; equal to it for a whole day.</param>
    /// <param name="timeZone">The time zone of both times, for example <c>TimeZoneInfo.FindSystemTimeZoneById("Europe/Oslo")</c>.</param>
    public DailyPeriod(TimeOnly start, TimeOnly end, TimeZoneInfo timeZone)
    {
        ArgumentNullException.ThrowIfNull(timeZone);
        Start = start;
        End = end;
        TimeZone = timeZone;
    }

    /// <summary>The local time it starts.</summary>
    public TimeOnly Start { get; }

    /// <summary>The local time it ends (exclusive).</summary>
    public TimeOnly End { get; }

    /// <summary>The time zone of <see cref="Start"/> and <see cref="End"/>.</summary>
    public TimeZoneInfo TimeZone { get; }

    /// <summary>Whether it runs across midnight (ends before it starts, or at the same time for a whole day).</summary>
    public bool CrossesMidnight => End <= Start;

    /// <summary>
    /// A period from text such as <c>"22:00-06:00"</c> (hours and minutes, 24-hour clock; an en dash also separates) in
    /// the time zone of the IANA id <paramref name="timeZoneId"/> such as <c>"Europe/Oslo"</c>.
    /// </summary>
    /// <exception cref="FormatException">The text is not two times.</exception>
    /// <exception cref="TimeZoneNotFoundException">No time zone has that id.</exception>
    public static DailyPeriod Parse(string period, string timeZoneId)
    {
        ArgumentNullException.ThrowIfNull(timeZoneId);
        return Parse(period, TimeZoneInfo.FindSystemTimeZoneById(timeZoneId));
    }

    /// <summary>A period from text such as <c>"22:00-06:00"</c> in <paramref name="timeZone"/>.</summary>
    /// <exception cref="FormatException">The text is not two times.</exception>
    public static DailyPeriod Parse(string period, TimeZoneInfo timeZone)
    {
        ArgumentNullException.ThrowIfNull(period);
        var parts = period.Split('-', '–');
        if (parts.Length != 2
            || !TimeOnly.TryParseExact(parts[0].Trim(), ["H:mm", "HH:mm"], CultureInfo.InvariantCulture, DateTimeStyles.None, out var start)
            || !TimeOnly.TryParseExact(parts[1].Trim(), ["H:mm", "HH:mm"], CultureInfo.InvariantCulture, DateTimeStyles.None, out var end))
        {
            throw new FormatException($"\"{period}\" is not a daily period such as \"22:00-06:00\"");
        }

        return new DailyPeriod(start, end, timeZone);
    }

    /// <summary>Whether <paramref name="instant"/> is in the period.</summary>
    public bool Contains(DateTimeOffset instant) => TryGetOccurrence(instant, out _);

    /// <summary>
    /// The start of the period's occurrence that holds <paramref name="instant"/>, or null when the instant is outside
    /// the period: the same for every instant of one night, so it keys a window or an alert per occurrence.
    /// </summary>
    public DateTimeOffset? StartOf(DateTimeOffset instant) => TryGetOccurrence(instant, out var occurrence) ? occurrence.Start : null;

    /// <summary>The occurrence of the period that holds <paramref name="instant"/>; false when the instant is outside the period.</summary>
    public bool TryGetOccurrence(DateTimeOffset instant, out PeriodOccurrence occurrence)
    {
        var date = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(instant, TimeZone).DateTime);
        // An occurrence starting the day before holds it (across midnight), or the one of its own day; the next day's
        // only where the clock goes back across midnight.
        for (var day = -1; day <= 1; day++)
        {
            var candidate = OccurrenceOn(date.AddDays(day));
            if (candidate.Start <= instant && instant < candidate.End)
            {
                occurrence = candidate;
                return true;
            }
        }

        occurrence = default;
        return false;
    }

    /// <summary>The first occurrence that starts after <paramref name="instant"/> (to set a timer for the next night, say).</summary>
    public PeriodOccurrence NextAfter(DateTimeOffset instant)
    {
        var date = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(instant, TimeZone).DateTime).AddDays(-1);
        while (true)
        {
            var occurrence = OccurrenceOn(date);
            if (occurrence.Start > instant)
            {
                return occurrence;
            }

            date = date.AddDays(1);
        }
    }

    /// <summary>The occurrence that starts on the local <paramref name="date"/>.</summary>
    public PeriodOccurrence OccurrenceOn(DateOnly date)
    {
        var start = Instant(date.ToDateTime(Start));
        var end = Instant((CrossesMidnight ? date.AddDays(1) : date).ToDateTime(End));
        return new PeriodOccurrence(date, start, end);
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Start:HH:mm}-{End:HH:mm} {TimeZone.Id}");

    /// <summary>The instant of a local time: a skipped one as without the change, a repeated one at its first pass.</summary>
    private DateTimeOffset Instant(DateTime local)
    {
        if (TimeZone.IsInvalidTime(local))
        {
            // The offset in force before the clock jumped: a day earlier is before any real change.
            var before = TimeZone.GetUtcOffset(new DateTimeOffset(local.AddDays(-1), TimeSpan.Zero));
            var utc = new DateTimeOffset(local - before, TimeSpan.Zero);
            return utc.ToOffset(TimeZone.GetUtcOffset(utc));
        }

        var offset = TimeZone.IsAmbiguousTime(local) ? TimeZone.GetAmbiguousTimeOffsets(local).Max() : TimeZone.GetUtcOffset(local);
        return new DateTimeOffset(local, offset);
    }
}

/// <summary>One occurrence of a <see cref="DailyPeriod"/>: one night, say.</summary>
/// <param name="Date">The local date it starts on: a key for it (<c>night.Date.ToString("yyyy-MM-dd")</c>).</param>
/// <param name="Start">When it starts.</param>
/// <param name="End">When it ends (exclusive).</param>
public readonly record struct PeriodOccurrence(DateOnly Date, DateTimeOffset Start, DateTimeOffset End)
{
    /// <summary>How long it lasts: 24 hours a day less or more on the days the clock changes.</summary>
    public TimeSpan Duration => End - Start;
}
