using Tally.Core.Events;

namespace Tally.Core.Tests;

public sealed class GranularityTests
{
    private static readonly DateTime Moment = new(2026, 12, 31, 23, 45, 12, 345, DateTimeKind.Utc);

    [Theory]
    [InlineData("year", "2026-01-01T00:00:00", "2027-01-01T00:00:00", "2026")]
    [InlineData("month", "2026-12-01T00:00:00", "2027-01-01T00:00:00", "202612")]
    [InlineData("day", "2026-12-31T00:00:00", "2027-01-01T00:00:00", "20261231")]
    [InlineData("hour", "2026-12-31T23:00:00", "2027-01-01T00:00:00", "2026123123")]
    public void A_moment_falls_in_one_partition_with_a_sortable_key(string name, string start, string next, string key)
    {
        var granularity = GranularityExtensions.Parse(name);
        var periodStart = granularity.PeriodStart(Moment);

        Assert.Equal(name, granularity.Name());
        Assert.Equal(DateTime.Parse(start, System.Globalization.CultureInfo.InvariantCulture), periodStart);
        Assert.Equal(DateTimeKind.Utc, periodStart.Kind);
        Assert.Equal(DateTime.Parse(next, System.Globalization.CultureInfo.InvariantCulture), granularity.NextPeriod(periodStart));
        Assert.Equal(key, granularity.PeriodKey(periodStart));
        Assert.InRange(Moment, periodStart, granularity.NextPeriod(periodStart).AddTicks(-1));
    }

    [Fact]
    public void Months_of_different_lengths_follow_each_other_without_gaps()
    {
        var start = Granularity.Month.PeriodStart(new DateTime(2028, 1, 31, 0, 0, 0, DateTimeKind.Utc));
        var keys = new List<string>();
        for (var i = 0; i < 3; i++, start = Granularity.Month.NextPeriod(start)) keys.Add(Granularity.Month.PeriodKey(start));
        Assert.Equal(["202801", "202802", "202803"], keys);
    }

    [Theory]
    [InlineData("week")]
    [InlineData("Month")]
    [InlineData("")]
    public void Unknown_granularities_are_refused(string name) =>
        Assert.Throws<FormatException>(() => GranularityExtensions.Parse(name));
}
