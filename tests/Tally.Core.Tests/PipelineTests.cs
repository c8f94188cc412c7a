using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Process;
using static Tally.Core.Tests.CoreTestKit;

namespace Tally.Core.Tests;

public abstract class PipelineTestBase
{
    protected const string Firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0";
    protected const string Chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36";

    /// <summary>Parses NDJSON with the default configuration (changed by <paramref name="change"/>) and runs the configured pipelines.</summary>
    protected static async Task<List<TallyEvent>> RunAsync(string ndjson, Action<TallyOptions>? change = null, ISaltSource? salts = null)
    {
        var schema = DefaultSchema(change);
        var batch = Parse(ndjson, schema);
        Assert.Empty(batch.Rejections);
        var kept = await EventPipeline.FromSchema(schema, new RobotList(["bot"]), salts ?? new DailySalts(), new TableGeo()).ProcessAsync(batch.Events, CancellationToken.None);
        return kept.Select(i => batch.Events[i]).ToList();
    }

    /// <summary>One record-view line with the given identity fields (null leaves a field out).</summary>
    protected static string Hit(string time = "2026-06-10T09:00:00Z", string? ip = null, string? ua = null, string? user = null, string? cookie = null)
    {
        var fields = new List<string> { "\"type\":\"record-view\"", "\"item_id\":\"a\"", $"\"timestamp\":\"{time}\"" };
        void Add(string name, string? value)
        {
            if (value is not null) fields.Add($"\"{name}\":{System.Text.Json.JsonSerializer.Serialize(value)}");
        }
        Add("ip", ip);
        Add("user_agent", ua);
        Add("user_id", user);
        Add("session_id", cookie);
        return "{" + string.Join(',', fields) + "}";
    }

    protected static string Lines(params string[] lines) => string.Join('\n', lines);
}

public sealed class AnonymizeTests : PipelineTestBase
{
    /// <summary>A store's salts as its purge leaves them: the day's salt can be replaced, and every ask is heard (and is a use).</summary>
    private sealed class PurgeableSalts : ISaltSource
    {
        public byte[] Salt { get; set; } = [1];
        public int Asked { get; private set; }

        public ValueTask<byte[]> GetSaltAsync(DateOnly day, CancellationToken cancellationToken)
        {
            Asked++;
            return ValueTask.FromResult(Salt);
        }
    }

    [Fact]
    public async Task A_long_lived_pipeline_asks_for_the_salt_every_batch_so_uses_are_recorded_and_a_purged_salt_is_not_kept()
    {
        var schema = DefaultSchema();
        var salts = new PurgeableSalts();
        var pipeline = EventPipeline.FromSchema(schema, new RobotList(["bot"]), salts, new TableGeo());
        async Task<long> VisitorAsync()
        {
            var batch = Parse(Hit("2026-06-09T09:00:00Z", "1.2.3.4", Firefox), schema);
            await pipeline.ProcessAsync(batch.Events, CancellationToken.None);
            return batch.Events[0].VisitorId;
        }

        var first = await VisitorAsync();
        var askedPerBatch = salts.Asked;
        Assert.Equal(first, await VisitorAsync());
        Assert.Equal(2 * askedPerBatch, salts.Asked);
        salts.Salt = [2];
        Assert.NotEqual(first, await VisitorAsync());
    }

    [Fact]
    public async Task The_same_ip_and_user_agent_on_the_same_day_is_the_same_visitor()
    {
        var events = await RunAsync(Lines(
            Hit("2026-06-09T00:00:00Z", "1.2.3.4", Firefox),
            Hit("2026-06-09T23:59:59Z", "1.2.3.4", Firefox),
            Hit("2026-06-09T09:00:00Z", "1.2.3.5", Firefox),
            Hit("2026-06-09T09:00:00Z", "1.2.3.4", Chrome)));
        Assert.Equal(events[0].VisitorId, events[1].VisitorId);
        Assert.Equal(3, events.Select(e => e.VisitorId).Distinct().Count());
    }

    [Fact]
    public async Task The_salt_rotates_at_midnight_utc_so_ids_do_not_link_across_days()
    {
        var events = await RunAsync(Lines(
            Hit("2026-06-09T23:59:59Z", "1.2.3.4", Firefox, cookie: "s1"),
            Hit("2026-06-10T00:00:00Z", "1.2.3.4", Firefox, cookie: "s1"),
            Hit("2026-06-10T01:00:00+02:00", "1.2.3.4", Firefox, cookie: "s1")));
        Assert.NotEqual(events[0].VisitorId, events[1].VisitorId);
        Assert.NotEqual(events[0].SessionId, events[1].SessionId);
        // 01:00+02:00 is 23:00 UTC of the 9th: the day follows UTC, not the sender's clock.
        Assert.Equal((events[0].VisitorId, events[0].SessionId), (events[2].VisitorId, events[2].SessionId));
    }

    [Fact]
    public async Task Ids_are_stable_across_batches_and_processors_that_share_the_salt_source()
    {
        var salts = new DailySalts();
        var mixed = await RunAsync(Lines(
            Hit("2026-06-09T10:00:00Z", "1.2.3.4", Firefox),
            Hit("2026-06-10T10:00:00Z", "1.2.3.4", Firefox),
            Hit("2026-06-09T10:30:00Z", "9.9.9.9", Firefox)), salts: salts);
        var later = await RunAsync(Lines(
            Hit("2026-06-10T10:59:00Z", "1.2.3.4", Firefox),
            Hit("2026-06-09T10:59:00Z", "1.2.3.4", Firefox)), salts: salts);
        Assert.Equal((mixed[1].VisitorId, mixed[1].SessionId), (later[0].VisitorId, later[0].SessionId));
        Assert.Equal((mixed[0].VisitorId, mixed[0].SessionId), (later[1].VisitorId, later[1].SessionId));
    }

    [Fact]
    public async Task Without_the_salt_the_same_visitor_cannot_be_recomputed()
    {
        var line = Hit(ip: "1.2.3.4", ua: Firefox, user: "alice");
        var one = (await RunAsync(line, salts: new DailySalts())).Single();
        var other = (await RunAsync(line, salts: new DailySalts())).Single();
        Assert.NotEqual(one.VisitorId, other.VisitorId);
        Assert.NotEqual(one.SessionId, other.SessionId);
    }

    [Fact]
    public async Task User_id_beats_session_cookie_beats_ip_and_user_agent()
    {
        var events = await RunAsync(Lines(
            Hit(ip: "1.1.1.1", ua: Firefox, user: "u1", cookie: "s1"),
            Hit(ip: "2.2.2.2", ua: Chrome, user: "u1", cookie: "s2"),   // same user, other cookie and device
            Hit(ip: "1.1.1.1", ua: Firefox, user: "u2", cookie: "s1"),  // other user, same cookie and device
            Hit(ip: "3.3.3.3", ua: Firefox, cookie: "s1"),
            Hit(ip: "4.4.4.4", ua: Chrome, cookie: "s1"),               // same cookie, other device
            Hit(ip: "3.3.3.3", ua: Firefox, cookie: "s9"),              // other cookie, same device
            Hit(ip: "5.5.5.5", ua: Firefox),
            Hit(ip: "5.5.5.5", ua: Firefox)));
        var v = events.Select(e => e.VisitorId).ToArray();
        Assert.Equal(v[0], v[1]);
        Assert.NotEqual(v[0], v[2]);
        Assert.Equal(v[3], v[4]);
        Assert.NotEqual(v[3], v[5]);
        Assert.Equal(v[6], v[7]);
        Assert.Equal(5, v.Distinct().Count());
    }

    [Fact]
    public async Task A_session_cookie_holds_a_session_across_hours_of_a_day()
    {
        var events = await RunAsync(Lines(
            Hit("2026-06-10T08:59:00Z", cookie: "s1", ip: "1.1.1.1", ua: Firefox),
            Hit("2026-06-10T09:01:00Z", cookie: "s1", ip: "2.2.2.2", ua: Firefox),
            Hit("2026-06-10T11:30:00Z", cookie: "s1"),
            Hit("2026-06-10T09:01:00Z", cookie: "s2", ip: "2.2.2.2", ua: Firefox)));
        Assert.Single(events.Take(3).Select(e => e.SessionId).Distinct());
        Assert.NotEqual(events[1].SessionId, events[3].SessionId);
    }

    [Fact]
    public async Task Sessions_from_ip_and_user_agent_split_at_each_hour_and_a_session_cookie_holds_for_the_day()
    {
        var events = await RunAsync(Lines(
            Hit("2026-06-10T08:00:00Z", "1.1.1.1", Firefox),
            Hit("2026-06-10T08:59:59Z", "1.1.1.1", Firefox),
            Hit("2026-06-10T09:00:00Z", "1.1.1.1", Firefox),
            Hit("2026-06-10T08:10:00Z", user: "u1", cookie: "s1"),
            Hit("2026-06-10T08:50:00Z", user: "u1", cookie: "s2"),
            Hit("2026-06-10T09:10:00Z", user: "u1", cookie: "s1")));
        var s = events.Select(e => e.SessionId).ToArray();
        Assert.Equal(s[0], s[1]);
        Assert.NotEqual(s[1], s[2]);
        // COUNTER prefers the session cookie for sessions, even when a user id is known.
        Assert.NotEqual(s[3], s[4]);
        Assert.Equal(s[3], s[5]);
        Assert.Equal(events[3].VisitorId, events[5].VisitorId);
    }

    [Fact]
    public async Task Visitor_and_session_ids_are_the_documented_hmac_of_their_text_so_they_match_across_versions()
    {
        // Events of one day stored before and after an upgrade must keep matching: the hashed text is fixed.
        var salts = new PurgeableSalts { Salt = [.. Enumerable.Range(1, 32).Select(i => (byte)i)] };
        const string agent = "Mozilla/5.0 (Ünïcødé; 日本語) Firefox/132.0";
        var events = await RunAsync(Lines(
            Hit("2026-06-10T09:30:00Z", ip: "10.1.2.3", ua: agent),
            Hit("2026-06-10T08:05:00Z", ua: agent),
            Hit("2026-06-10T09:30:00Z", ip: "10.1.2.3", ua: agent, user: "reader-ü", cookie: "cookie-日本"),
            Hit("2026-06-10T09:30:00Z", ip: "10.1.2.3", ua: new string('x', 3000), cookie: "c")), salts: salts);
        var day = new DateOnly(2026, 6, 10).DayNumber;
        long Hmac(string text)
        {
            var mac = System.Security.Cryptography.HMACSHA256.HashData(salts.Salt, System.Text.Encoding.UTF8.GetBytes(text));
            return System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(mac);
        }
        Assert.Equal(Hmac($"vd\u001f10.1.2.3\u001f{agent}"), events[0].VisitorId);
        Assert.Equal(Hmac($"h{day}\u001f9\u001fd\u001f10.1.2.3\u001f{agent}"), events[0].SessionId);
        Assert.Equal(Hmac($"vd\u001f\u001f{agent}"), events[1].VisitorId);
        Assert.Equal(Hmac($"h{day}\u001f8\u001fd\u001f\u001f{agent}"), events[1].SessionId);
        Assert.Equal(Hmac("vu\u001freader-ü"), events[2].VisitorId);
        Assert.Equal(Hmac($"s{day}\u001fcookie-日本"), events[2].SessionId);
        Assert.Equal(Hmac("vc\u001fc"), events[3].VisitorId);
        Assert.Equal(Hmac($"s{day}\u001fc"), events[3].SessionId);
    }

    [Fact]
    public async Task An_event_with_no_identity_is_its_own_visitor_and_session()
    {
        var events = await RunAsync(Lines(Hit(), Hit()));
        Assert.NotEqual(events[0].VisitorId, events[1].VisitorId);
        Assert.NotEqual(events[0].SessionId, events[1].SessionId);
    }

    [Fact]
    public async Task Very_long_identities_hash_by_their_whole_text()
    {
        var longAgent = new string('x', 3000);
        var events = await RunAsync(Lines(
            Hit(ip: "1.1.1.1", ua: longAgent + "A"),
            Hit(ip: "1.1.1.1", ua: longAgent + "B"),
            Hit(ip: "1.1.1.1", ua: longAgent + "A")));
        Assert.NotEqual(events[0].VisitorId, events[1].VisitorId);
        Assert.Equal(events[0].VisitorId, events[2].VisitorId);
    }

    [Fact]
    public async Task By_default_no_raw_identity_survives_anonymization()
    {
        var e = (await RunAsync(Hit(ip: "1.1.1.1", ua: Firefox, user: "alice", cookie: "s1"))).Single();
        Assert.Equal<object?>([null, null, null, null], [e["ip"], e["user_agent"], e["user_id"], e["session_id"]]);
        Assert.Equal("a", e["item_id"]);
        Assert.NotEqual(0, e.VisitorId);
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public async Task Ip_and_user_agent_are_kept_only_when_configured(bool keepIp, bool keepUserAgent)
    {
        var e = (await RunAsync(Hit(ip: "1.1.1.1", ua: Firefox, user: "alice", cookie: "s1"), o =>
        {
            var step = o.EventTypes[0].Pipeline.Single(s => s.Step == "anonymize");
            (step.KeepIp, step.KeepUserAgent) = (keepIp, keepUserAgent);
        })).Single();
        Assert.Equal(keepIp ? "1.1.1.1" : null, e["ip"]);
        Assert.Equal(keepUserAgent ? Firefox : null, e["user_agent"]);
        Assert.Equal<object?>([null, null], [e["user_id"], e["session_id"]]);
    }

    [Fact]
    public async Task Robots_are_flagged_before_the_user_agent_is_dropped()
    {
        var events = await RunAsync(Lines(Hit(ua: "SuperBOT 1.0"), Hit(ua: Firefox)));
        Assert.Equal([true, false], events.Select(e => e.IsRobot));
        Assert.All(events, e => Assert.Null(e["user_agent"]));
    }

    [Fact]
    public async Task Without_an_anonymize_step_nothing_is_hashed_and_raw_identities_are_still_dropped()
    {
        var e = (await RunAsync(Hit(ip: "1.1.1.1", ua: Firefox, user: "alice", cookie: "s1"), o =>
        {
            o.EventTypes[0].Pipeline.Clear();
            o.EventTypes[0].Counter = "none";
        })).Single();
        Assert.Equal<object?>([null, null, null, null, 0L], [e["ip"], e["user_agent"], e["user_id"], e["session_id"], e.VisitorId]);
    }

    [Fact]
    public async Task Storing_ip_addresses_is_a_choice_the_configuration_makes()
    {
        var e = (await RunAsync(Hit(ip: "1.1.1.1", ua: Firefox), o =>
        {
            o.EventTypes[0].Pipeline.Clear();
            o.EventTypes[0].Counter = "none";
            o.Privacy.StoreIpAddresses = true;
        })).Single();
        Assert.Equal(("1.1.1.1", Firefox, 0L), (e["ip"], e["user_agent"], e.VisitorId));
    }
}

public sealed class FilterTests : PipelineTestBase
{
    private const string Both = """
        {"type":"record-view","item_id":"view"}
        {"type":"file-download","item_id":"download"}
        """;

    private static async Task<string[]> SurvivorsAsync(string[] allow, string[] deny)
    {
        var events = await RunAsync(Both, o =>
        {
            foreach (var type in o.EventTypes) type.Pipeline.Insert(0, new PipelineStepOptions { Step = "filter", Allow = [.. allow], Deny = [.. deny] });
        });
        return events.Select(e => (string)e["item_id"]!).ToArray();
    }

    [Theory]
    [InlineData(new string[0], new string[0], new[] { "view", "download" })]
    [InlineData(new[] { "^record-" }, new string[0], new[] { "view" })]
    [InlineData(new[] { "view", "download" }, new string[0], new[] { "view", "download" })]
    [InlineData(new[] { "^nothing$" }, new string[0], new string[0])]
    [InlineData(new string[0], new[] { "download$" }, new[] { "view" })]
    [InlineData(new string[0], new[] { "-" }, new string[0])]
    [InlineData(new[] { "^record-", "^file-" }, new[] { "download$" }, new[] { "view" })]
    [InlineData(new[] { "^record-" }, new[] { "^record-" }, new string[0])]
    public async Task Allow_and_deny_regexes_on_the_type_name_decide_which_events_pass(string[] allow, string[] deny, string[] survivors) =>
        Assert.Equal(survivors, await SurvivorsAsync(allow, deny));

    [Fact]
    public async Task Type_name_filters_are_case_sensitive()
    {
        Assert.Equal(["view", "download"], await SurvivorsAsync([], ["RECORD"]));
    }

    private sealed class DropItem(string itemId) : IEventProcessor
    {
        public bool Process(TallyEvent e) => !Equals(e["item_id"], itemId);
    }

    private sealed class Recorder : IEventProcessor
    {
        public List<string> Seen { get; } = [];

        public bool Process(TallyEvent e)
        {
            Seen.Add((string)e["item_id"]!);
            return true;
        }
    }

    [Fact]
    public async Task A_processor_can_drop_an_event_and_later_processors_never_see_it()
    {
        var schema = DefaultSchema();
        var events = Parse("[" + string.Join(',', new[] { "a", "b", "c", "d" }.Select(id => $$"""{"type":"record-view","item_id":"{{id}}"}""")) + "]", schema).Events;
        var recorder = new Recorder();
        var pipeline = new EventPipeline(new Dictionary<EventType, IEventProcessor[]>
        {
            [schema.EventTypes["record-view"]] = [new DropItem("b"), new DropItem("d"), recorder],
        });

        var kept = await pipeline.ProcessAsync(events, CancellationToken.None);

        Assert.Equal([0, 2], kept);
        Assert.Equal(["a", "c"], recorder.Seen);
    }

    [Fact]
    public async Task Types_without_processors_pass_untouched()
    {
        var schema = DefaultSchema();
        var events = Parse(Both, schema).Events;
        var pipeline = new EventPipeline(new Dictionary<EventType, IEventProcessor[]> { [schema.EventTypes["record-view"]] = [new DropItem("view")] });
        Assert.Equal([1], await pipeline.ProcessAsync(events, CancellationToken.None));
    }
}
