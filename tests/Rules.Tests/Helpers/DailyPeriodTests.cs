using CsCheck;
using Kommune.Rules.Api;

namespace Kommune.Rules.Tests.Helpers;

public sealed class DailyPeriodTests
{
    private static readonly TimeZoneInfo Oslo = TimeZoneInfo.FindSystemTimeZoneById("Europe/Oslo");
    private static readonly DailyPeriod Night = DailyPeriod.Parse("22:00-06:00", "Europe/Oslo");

    private static DateTimeOffset Utc(int month, int day, int hour, int minute = 0) => new(2026, month, day, hour, minute, 0, TimeSpan.Zero);

    [Fact]
    public void The_night_is_from_22_to_06_by_the_local_clock_across_midnight()
    {
        // 2026-01-15 is winter time (UTC+1): the night is 21:00Z to 05:00Z.
        Assert.False(Night.Contains(Utc(1, 15, 20, 59)));
        Assert.True(Night.Contains(Utc(1, 15, 21, 0)));
        Assert.True(Night.Contains(Utc(1, 15, 23, 30)));
        Assert.True(Night.Contains(Utc(1, 16, 4, 59)));
        Assert.False(Night.Contains(Utc(1, 16, 5, 0)));
        Assert.Equal(Utc(1, 15, 21), Night.StartOf(Utc(1, 16, 3)));
        Assert.Null(Night.StartOf(Utc(1, 16, 12)));
    }

    [Fact]
    public void The_night_the_clocks_go_forward_is_seven_hours_long()
    {
        // 2026-03-29 02:00 CET becomes 03:00 CEST (01:00Z). The night starts 22:00 CET (21:00Z) and ends 06:00 CEST (04:00Z).
        Assert.True(Night.TryGetOccurrence(Utc(3, 29, 1, 30), out var night));

        Assert.Equal(new DateOnly(2026, 3, 28), night.Date);
        Assert.Equal(Utc(3, 28, 21), night.Start);
        Assert.Equal(Utc(3, 29, 4), night.End);
        Assert.Equal(TimeSpan.FromHours(7), night.Duration);
        Assert.True(Night.Contains(Utc(3, 29, 3, 59)));
        Assert.False(Night.Contains(Utc(3, 29, 4, 0)));
        Assert.False(Night.Contains(Utc(3, 28, 20, 59)));
    }

    [Fact]
    public void The_night_the_clocks_go_back_is_nine_hours_long_and_both_passes_of_the_repeated_hour_are_in_it()
    {
        // 2026-10-25 03:00 CEST becomes 02:00 CET (01:00Z). The night starts 22:00 CEST (20:00Z) and ends 06:00 CET (05:00Z).
        var firstPass = Utc(10, 25, 0, 30);   // 02:30 CEST
        var secondPass = Utc(10, 25, 1, 30);  // 02:30 CET
        Assert.True(Night.TryGetOccurrence(firstPass, out var night));

        Assert.Equal(Utc(10, 24, 20), night.Start);
        Assert.Equal(Utc(10, 25, 5), night.End);
        Assert.Equal(TimeSpan.FromHours(9), night.Duration);
        Assert.Equal(night.Start, Night.StartOf(secondPass));
        Assert.True(Night.Contains(Utc(10, 25, 4, 59)));
        Assert.False(Night.Contains(Utc(10, 25, 5, 0)));
    }

    [Fact]
    public void A_period_starting_in_the_skipped_hour_starts_as_if_the_clock_had_not_changed()
    {
        var period = DailyPeriod.Parse("02:30-04:00", Oslo);

        var occurrence = period.OccurrenceOn(new DateOnly(2026, 3, 29));

        Assert.Equal(Utc(3, 29, 1, 30), occurrence.Start); // 03:30 CEST
        Assert.Equal(Utc(3, 29, 2, 0), occurrence.End);    // 04:00 CEST
        Assert.False(period.Contains(Utc(3, 29, 1, 0)));
    }

    [Fact]
    public void A_period_starting_in_the_repeated_hour_starts_at_its_first_pass_and_is_unbroken()
    {
        var period = DailyPeriod.Parse("02:30-04:00", Oslo);

        var occurrence = period.OccurrenceOn(new DateOnly(2026, 10, 25));

        Assert.Equal(Utc(10, 25, 0, 30), occurrence.Start); // 02:30 CEST
        Assert.Equal(Utc(10, 25, 3, 0), occurrence.End);    // 04:00 CET
        Assert.True(period.Contains(Utc(10, 25, 1, 15)));   // 02:15 CET, the clock's second pass
    }

    [Fact]
    public void A_whole_day_period_follows_the_local_days()
    {
        var day = DailyPeriod.Parse("00:00-00:00", Oslo);

        Assert.Equal(TimeSpan.FromHours(23), day.OccurrenceOn(new DateOnly(2026, 3, 29)).Duration);
        Assert.Equal(TimeSpan.FromHours(25), day.OccurrenceOn(new DateOnly(2026, 10, 25)).Duration);
        Assert.Equal(new DateOnly(2026, 3, 29), day.TryGetOccurrence(Utc(3, 29, 21, 30), out var o) ? o.Date : default);
    }

    [Fact]
    public void A_day_period_does_not_cross_midnight()
    {
        var daytime = DailyPeriod.Parse("06:00–22:00", Oslo);

        Assert.False(daytime.CrossesMidnight);
        Assert.True(daytime.Contains(Utc(7, 1, 4, 0)));   // 06:00 CEST
        Assert.False(daytime.Contains(Utc(7, 1, 20, 0))); // 22:00 CEST
    }

    [Fact]
    public void NextAfter_is_the_next_start()
    {
        Assert.Equal(Utc(3, 28, 21), Night.NextAfter(Utc(3, 28, 12)).Start);
        Assert.Equal(Utc(3, 29, 20), Night.NextAfter(Utc(3, 28, 21)).Start); // 22:00 CEST on the 29th
    }

    [Theory]
    [InlineData("22-06")]
    [InlineData("22:00")]
    [InlineData("25:00-06:00")]
    [InlineData("22:00-06:00-07:00")]
    public void Parse_refuses_what_is_not_two_times(string text)
    {
        var error = Assert.Throws<FormatException>(() => DailyPeriod.Parse(text, Oslo));

        Assert.Contains("22:00-06:00", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parameters_read_a_time_zone_and_a_period_and_name_the_parameter_in_errors()
    {
        var parameters = RuleParameters.FromJson("""{"timeZone": "Europe/Oslo", "night": "23:00-05:30"}""");

        var zone = parameters.GetTimeZone("timeZone", "UTC");
        var night = parameters.GetDailyPeriod("night", zone, "22:00-06:00");

        Assert.Equal(Oslo.Id, zone.Id);
        Assert.Equal(new TimeOnly(23, 0), night.Start);
        Assert.Equal(new TimeOnly(5, 30), night.End);
        Assert.Empty(parameters.Unread);
        Assert.Equal(TimeZoneInfo.Utc.Id, RuleParameters.Empty.GetTimeZone("timeZone", "UTC").Id);
        Assert.Equal("parameter 'timeZone' must be a time zone id such as \"Europe/Oslo\", not \"Mars/Olympus\"",
            Assert.Throws<RuleParameterException>(() => RuleParameters.FromJson("""{"timeZone": "Mars/Olympus"}""").GetTimeZone("timeZone", "UTC")).Message);
        Assert.Equal("parameter 'night' must be a daily period such as \"22:00-06:00\", not \"late\"",
            Assert.Throws<RuleParameterException>(() => RuleParameters.FromJson("""{"night": "late"}""").GetDailyPeriod("night", zone)).Message);
    }

    private static readonly Gen<(int Minute, int Start, int End)> Cases =
        Gen.Select(Gen.Int[0, 366 * 24 * 60], Gen.Int[0, 24 * 60 - 1], Gen.Int[0, 24 * 60 - 1]);

    private static DailyPeriod Period(int start, int end) =>
        new(TimeOnly.FromTimeSpan(TimeSpan.FromMinutes(start)), TimeOnly.FromTimeSpan(TimeSpan.FromMinutes(end)), Oslo);

    [Fact]
    public void Every_instant_in_the_period_is_in_one_unbroken_occurrence_that_starts_and_ends_by_the_local_clock()
    {
        Cases.Sample(c =>
        {
            var period = Period(c.Start, c.End);
            var instant = Utc(1, 1, 0).AddMinutes(c.Minute).AddSeconds(c.Start % 60);
            if (!period.TryGetOccurrence(instant, out var occurrence))
            {
                return !period.Contains(instant) && period.StartOf(instant) is null;
            }

            var nominal = c.End > c.Start ? TimeSpan.FromMinutes(c.End - c.Start) : TimeSpan.FromMinutes(24 * 60 - c.Start + c.End);
            return occurrence.Start <= instant && instant < occurrence.End
                && period.StartOf(occurrence.Start) == occurrence.Start
                && period.StartOf(occurrence.End.AddTicks(-1)) == occurrence.Start
                && (period.StartOf(occurrence.End) is null || period.StartOf(occurrence.End) == occurrence.End) // the next day's, for a whole-day period
                && (occurrence.Duration - nominal).Duration() <= TimeSpan.FromHours(1)
                && period.OccurrenceOn(occurrence.Date) == occurrence;
        });
    }

    [Fact]
    public void Away_from_the_hour_the_clock_changes_in_the_period_is_the_wall_clock_rule()
    {
        Cases.Sample(c =>
        {
            // Oslo changes its clock between 02:00 and 03:00 local time: with neither end there, the wall clock decides.
            if (c.Start is >= 120 and < 180 || c.End is >= 120 and < 180)
            {
                return true;
            }

            var period = Period(c.Start, c.End);
            var instant = Utc(1, 1, 0).AddMinutes(c.Minute);
            var local = TimeOnly.FromDateTime(TimeZoneInfo.ConvertTime(instant, Oslo).DateTime);
            var wallClock = period.CrossesMidnight ? local >= period.Start || local < period.End : local >= period.Start && local < period.End;
            return period.Contains(instant) == wallClock;
        });
    }
}
