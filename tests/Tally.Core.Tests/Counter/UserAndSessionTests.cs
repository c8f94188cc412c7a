using static Tally.Core.Aggregate.CounterMetric;
using static Tally.Core.Tests.Counter.Hits;

namespace Tally.Core.Tests.Counter;

/// <summary>
/// Who the user is for double-click filtering: user id, else session cookie, else ip + user agent,
/// as salted by the anonymize step.
/// </summary>
public sealed class UserIdentificationTests
{
    private const string Pdf = "https://tally.example/article1.pdf";

    private static Hit Click(Who who, string time) => Download(who, time) with { Url = Pdf };

    private static async Task<long> TotalRequestsAsync(Who first, Who second) =>
        (await CounterLab.RunAsync(Click(first, "10:00:00"), Click(second, "10:00:10")))[TotalItemRequests];

    [Fact]
    public async Task The_same_user_id_from_two_ips_and_browsers_within_30_seconds_is_one_user()
    {
        Assert.Equal(1, await TotalRequestsAsync(
            new Who(User: "alice", Ip: "192.0.2.1", Agent: Browsers.Firefox),
            new Who(User: "alice", Ip: "198.51.100.7", Agent: Browsers.Chrome)));
    }

    [Fact]
    public async Task The_same_user_id_with_two_session_cookies_is_one_user()
    {
        Assert.Equal(1, await TotalRequestsAsync(new Who(User: "alice", Cookie: "c1"), new Who(User: "alice", Cookie: "c2")));
    }

    [Fact]
    public async Task Two_user_ids_behind_one_session_cookie_and_device_are_two_users()
    {
        Assert.Equal(2, await TotalRequestsAsync(
            new Who(User: "alice", Cookie: "c1", Ip: "192.0.2.1", Agent: Browsers.Firefox),
            new Who(User: "bob", Cookie: "c1", Ip: "192.0.2.1", Agent: Browsers.Firefox)));
    }

    [Fact]
    public async Task Without_a_user_id_the_session_cookie_identifies_the_user_across_ips_and_browsers()
    {
        Assert.Equal(1, await TotalRequestsAsync(
            new Who(Cookie: "c1", Ip: "192.0.2.1", Agent: Browsers.Firefox),
            new Who(Cookie: "c1", Ip: "198.51.100.7", Agent: Browsers.Chrome)));
    }

    [Fact]
    public async Task Without_a_user_id_two_session_cookies_on_one_device_are_two_users()
    {
        Assert.Equal(2, await TotalRequestsAsync(
            new Who(Cookie: "c1", Ip: "192.0.2.1", Agent: Browsers.Firefox),
            new Who(Cookie: "c2", Ip: "192.0.2.1", Agent: Browsers.Firefox)));
    }

    [Fact]
    public async Task Without_user_id_or_cookie_the_same_ip_and_user_agent_is_one_user()
    {
        Assert.Equal(1, await TotalRequestsAsync(Who.Device("192.0.2.1"), Who.Device("192.0.2.1")));
    }

    [Fact]
    public async Task Without_user_id_or_cookie_another_ip_or_another_user_agent_is_another_user()
    {
        Assert.Equal(2, await TotalRequestsAsync(Who.Device("192.0.2.1", Browsers.Firefox), Who.Device("192.0.2.1", Browsers.Chrome)));
        Assert.Equal(2, await TotalRequestsAsync(Who.Device("192.0.2.1"), Who.Device("192.0.2.2")));
    }

    // A user id and someone else's session cookie with the same text are different people.
    [Fact]
    public async Task A_user_id_and_another_visitors_session_cookie_with_the_same_text_are_two_users()
    {
        Assert.Equal(2, await TotalRequestsAsync(
            new Who(User: "1001", Ip: "192.0.2.1", Agent: Browsers.Firefox),
            new Who(Cookie: "1001", Ip: "198.51.100.7", Agent: Browsers.Chrome)));
    }
}

/// <summary>
/// COUNTER R5.1 §7.3: a session is the session cookie + date, else the user (or ip + user agent)
/// + date + hour; uniques count once per item (or title) per session. Days are calculated apart.
/// </summary>
public sealed class SessionTests
{
    private static readonly Who Device = Who.Device("192.0.2.1");

    [Fact]
    public async Task Without_a_cookie_views_at_10_15_and_10_45_are_one_session()
    {
        var result = await CounterLab.RunAsync(View(Device, "10:15:00"), View(Device, "10:45:00"));
        Assert.Equal(2, result[TotalItemInvestigations]);
        Assert.Equal(1, result[UniqueItemInvestigations]);
        Assert.Equal(1, result[UniqueTitleInvestigations]);
    }

    [Fact]
    public async Task Without_a_cookie_views_at_10_59_50_and_11_00_30_are_two_sessions()
    {
        var result = await CounterLab.RunAsync(View(Device, "10:59:50"), View(Device, "11:00:30"));
        Assert.Equal(2, result[TotalItemInvestigations]);
        Assert.Equal(2, result[UniqueItemInvestigations]);
        Assert.Equal(2, result[UniqueTitleInvestigations]);
    }

    [Fact]
    public async Task A_session_cookie_holds_one_session_across_hours()
    {
        var reader = new Who(Cookie: "c1", Ip: "192.0.2.1", Agent: Browsers.Firefox);
        var result = await CounterLab.RunAsync(View(reader, "09:30:00"), View(reader, "11:30:00"), View(reader, "15:00:00"));
        Assert.Equal(3, result[TotalItemInvestigations]);
        Assert.Equal(1, result[UniqueItemInvestigations]);
    }

    [Fact]
    public async Task A_logged_in_users_sessions_split_at_each_hour()
    {
        var alice = new Who(User: "alice");
        var result = await CounterLab.RunAsync(View(alice, "09:30:00"), View(alice, "09:59:00"), View(alice, "10:30:00"));
        Assert.Equal(3, result[TotalItemInvestigations]);
        Assert.Equal(2, result[UniqueItemInvestigations]);
    }

    [Fact]
    public async Task Across_midnight_each_day_counts_its_own_unique()
    {
        var lab = new CounterLab();
        // One batch that spans midnight; each day is then calculated on its own.
        var events = await lab.ProcessAsync([View(Device, "23:59:50"), View(Device, "2026-06-10T00:00:10Z")]);

        var first = CounterLab.Count(CounterLab.Day, events);
        var second = CounterLab.Count(CounterLab.Day.AddDays(1), events);

        Assert.Equal((1L, 1L), (first[TotalItemInvestigations], first[UniqueItemInvestigations]));
        Assert.Equal((1L, 1L), (second[TotalItemInvestigations], second[UniqueItemInvestigations]));
        Assert.All(first.Rows, r => Assert.Equal(CounterLab.Day, r.Period));
        Assert.All(second.Rows, r => Assert.Equal(CounterLab.Day.AddDays(1), r.Period));
    }

    [Fact]
    public async Task A_session_cookie_does_not_join_two_days()
    {
        var reader = new Who(Cookie: "c1");
        var lab = new CounterLab();
        var events = await lab.ProcessAsync([View(reader, "23:00:00"), View(reader, "2026-06-10T01:00:00Z")]);
        Assert.NotEqual(events[0].SessionId, events[1].SessionId);
        Assert.NotEqual(events[0].VisitorId, events[1].VisitorId);
    }

    // A double-click straddling an hour slice must not report more uniques than totals.
    [Fact]
    public async Task Unique_investigations_never_exceed_total_investigations_when_a_double_click_straddles_the_hour()
    {
        var result = await CounterLab.RunAsync(View(Device, "10:59:50"), View(Device, "11:00:10"));
        Assert.Equal(1, result[TotalItemInvestigations]);
        Assert.True(result[UniqueItemInvestigations] <= result[TotalItemInvestigations],
            $"Unique_Item_Investigations {result[UniqueItemInvestigations]} > Total_Item_Investigations {result[TotalItemInvestigations]}");
    }
}
