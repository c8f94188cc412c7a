using System.Globalization;
using Tally.Core.Aggregate;
using static Tally.Core.Aggregate.CounterMetric;

namespace Tally.Core.Tests.Counter;

/// <summary>
/// Events reach the store in any order and in late batches, each processed by the pipeline on its
/// own; a day's COUNTER rows must not depend on that.
/// </summary>
public sealed class OrderIndependenceTests
{
    private static readonly Who[] People =
    [
        new(User: "u1", Ip: "10.0.0.1", Agent: Browsers.Firefox),
        new(Cookie: "c2", Ip: "10.0.0.2", Agent: Browsers.Chrome),
        Who.Device("10.0.0.3", Browsers.Firefox),
        Who.Device("10.0.0.3", Browsers.Chrome),
        new(User: "u5", Cookie: "c5", Ip: "10.0.0.5", Agent: Browsers.Firefox),
    ];

    // Gaps between one person's clicks: under, at and over 30 s, simultaneous, and to the millisecond.
    private static readonly double[] Gaps = [29, 30, 31, 10, 0, 29.999, 45, 30, 5, 120, 0.001, 61];

    private static string Iso(DateTime t) => t.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>66 events: 5 people × 12 clicks from 10:58 across 11:00, a few after midnight, and a robot.</summary>
    private static List<Hit> Events()
    {
        var hits = new List<Hit>();
        var start = CounterLab.Day.ToDateTime(new TimeOnly(10, 58), DateTimeKind.Utc);
        for (var w = 0; w < People.Length; w++)
        {
            var time = start.AddSeconds(3 * w);
            for (var k = 0; k < 12; k++)
            {
                var gap = Gaps[(k + w) % Gaps.Length];
                time = time.AddSeconds(gap);
                var type = k == 11 ? "search" : k % 6 == 5 ? "record-view" : k % 7 == 6 ? "no-license" : k == 8 ? "limit-exceeded" : "file-download";
                var item = w == 3 ? $"art{k % 2}" : (k / 3) % 2 == 0 ? "book1-ch1" : "book1-ch2";
                hits.Add(new Hit(type, People[w], Iso(time))
                {
                    Id = $"e{w}-{k}",
                    Item = type == "search" ? null : item,
                    Title = w == 3 || type == "search" ? null : "book1",
                    Url = w % 2 == 1 && type != "search" ? $"https://tally.example/{item}" : null,
                    Format = w % 2 == 0 && type != "search" ? (k % 5 == 0 ? "HTML" : "PDF") : null,
                    AccessType = gap == 0 && type != "search" ? "Open" : null,
                    SearchType = type == "search" ? (w == 4 ? "automated" : "regular") : null,
                });
            }
        }
        var nextDay = CounterLab.Day.AddDays(1).ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);
        hits.Add(Hits.Download(People[0], Iso(nextDay.AddSeconds(5)), "book1-ch1") with { Id = "n1", Title = "book1", Format = "PDF" });
        hits.Add(Hits.Download(People[0], Iso(nextDay.AddSeconds(20)), "book1-ch1") with { Id = "n2", Title = "book1", Format = "PDF" });
        hits.Add(Hits.View(People[2], Iso(nextDay.AddSeconds(7)), "book1-ch2") with { Id = "n3", Title = "book1" });
        hits.Add(Hits.View(People[2], Iso(nextDay.AddSeconds(50)), "book1-ch2") with { Id = "n4", Title = "book1" });
        hits.Add(Hits.Download(Who.Device("66.249.66.1", Browsers.Googlebot), Iso(start.AddSeconds(1)), "book1-ch1") with { Id = "r1", Title = "book1" });
        hits.Add(Hits.Download(Who.Device("66.249.66.1", Browsers.Googlebot), Iso(start.AddSeconds(100)), "book1-ch1") with { Id = "r2", Title = "book1" });
        return hits;
    }

    private static IReadOnlyList<string> Calculate(IReadOnlyList<Tally.Core.Events.TallyEvent> arrived) =>
    [
        .. CounterLab.Count(CounterLab.Day, arrived).Normalized(),
        .. CounterLab.Count(CounterLab.Day.AddDays(1), arrived).Normalized(),
    ];

    [Fact]
    public async Task Shuffled_events_in_late_batches_give_the_same_rows_as_in_order()
    {
        var hits = Events();
        var lab = new CounterLab();
        var inOrder = await lab.ProcessAsync(hits);
        var expected = Calculate(inOrder);

        // The example is only worth something if it exercises the rules.
        var day = CounterLab.Count(CounterLab.Day, inOrder);
        var downloads = hits.Count(h => h.Type == "file-download" && h.Timestamp.Date == CounterLab.Day.ToDateTime(TimeOnly.MinValue) && h.Who.Agent != Browsers.Googlebot);
        Assert.InRange(day[TotalItemRequests], 1, downloads - 3);
        Assert.True(day[UniqueItemRequests] < day[TotalItemRequests]);
        Assert.True(day[NoLicense] > 0 && day[LimitExceeded] > 0 && day[SearchesRegular] > 0 && day[SearchesAutomated] > 0);
        Assert.Contains(day.Rows, r => CounterResult.Key(r, CounterDimension.AccessType) == "Open" && r[TotalItemRequests] > 0);

        for (var seed = 0; seed < 250; seed++)
        {
            var random = new Random(seed);
            var shuffled = hits.ToArray();
            random.Shuffle(shuffled);
            var cuts = Enumerable.Range(0, random.Next(0, 6)).Select(_ => random.Next(1, shuffled.Length)).Append(0).Append(shuffled.Length).Distinct().Order().ToArray();

            var arrived = new List<Tally.Core.Events.TallyEvent>();
            for (var b = 0; b + 1 < cuts.Length; b++)
                arrived.AddRange(await lab.ProcessAsync(shuffled[cuts[b]..cuts[b + 1]]));

            var actual = Calculate(arrived);
            Assert.True(expected.SequenceEqual(actual),
                $"seed {seed}, batches at {string.Join(',', cuts)}:\nexpected\n{string.Join('\n', expected)}\nactual\n{string.Join('\n', actual)}");
        }
    }

    [Fact]
    public async Task Late_batches_through_separate_pipelines_give_each_person_the_same_ids()
    {
        var lab = new CounterLab();
        var first = await lab.ProcessAsync([Hits.View(People[2], "10:00:00")]);
        var late = await lab.ProcessAsync([Hits.View(People[2], "10:30:00")]);
        Assert.Equal((first[0].VisitorId, first[0].SessionId), (late[0].VisitorId, late[0].SessionId));
    }
}
