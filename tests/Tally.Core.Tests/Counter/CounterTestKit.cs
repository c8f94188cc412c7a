using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Tally.Core.Accept;
using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Process;

namespace Tally.Core.Tests.Counter;

public static class Browsers
{
    public const string Firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0";
    public const string Chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36";
    /// <summary>On the COUNTER robots list.</summary>
    public const string Googlebot = "Googlebot/2.1 (+http://www.google.com/bot.html)";
}

/// <summary>Who clicks, as a client reports it: any of user id, session cookie, ip and user agent (null leaves it out).</summary>
public sealed record Who(string? User = null, string? Cookie = null, string? Ip = null, string? Agent = null)
{
    public static Who Device(string ip, string agent = Browsers.Firefox) => new(Ip: ip, Agent: agent);
}

/// <summary>
/// One event as a client sends it. <see cref="Time"/> is "hh:mm:ss[.fff]" on <see cref="CounterLab.Day"/>,
/// or a full ISO-8601 date-time. Null members are left out of the JSON.
/// </summary>
public sealed record Hit(string Type, Who Who, string Time)
{
    public string? Id { get; init; }
    public string? Item { get; init; } = "article1";
    public string? Title { get; init; }
    public string? Url { get; init; }
    public string? Format { get; init; }
    public string? AccessType { get; init; }
    public string? Database { get; init; }
    public string? SearchType { get; init; }

    public DateTime Timestamp => DateTime.Parse(IsoTime, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);

    private string IsoTime => Time.Contains('T') ? Time : $"{CounterLab.Day:yyyy-MM-dd}T{Time}Z";

    public string ToJson()
    {
        var members = new Dictionary<string, string> { ["type"] = Type, ["timestamp"] = IsoTime };
        void Add(string name, string? value)
        {
            if (value is not null) members[name] = value;
        }
        Add("id", Id);
        Add("ip", Who.Ip);
        Add("user_agent", Who.Agent);
        Add("user_id", Who.User);
        Add("session_id", Who.Cookie);
        if (Type != "search") Add("item_id", Item);
        Add("title_id", Title);
        Add("url", Url);
        Add("format", Format);
        Add("access_type", AccessType);
        Add("database_id", Database);
        Add("search_type", SearchType);
        return JsonSerializer.Serialize(members);
    }

    public override string ToString() => ToJson();
}

/// <summary>Shorthands for the default configuration's COUNTER event types.</summary>
public static class Hits
{
    public static Hit View(Who who, string time, string item = "article1") => new("record-view", who, time) { Item = item };
    public static Hit Download(Who who, string time, string item = "article1") => new("file-download", who, time) { Item = item };
    public static Hit NoLicense(Who who, string time, string item = "article1") => new("no-license", who, time) { Item = item };
    public static Hit LimitExceeded(Who who, string time, string item = "article1") => new("limit-exceeded", who, time) { Item = item };
    public static Hit Search(Who who, string time, string? searchType = null) => new("search", who, time) { Item = null, SearchType = searchType };
}

/// <summary>A geo database of a few addresses, for tests of the geo step.</summary>
public sealed class DictionaryGeo(Dictionary<string, GeoLocation> byAddress) : IGeoLookup
{
    public GeoLocation? Lookup(IPAddress address) => byAddress.GetValueOrDefault(address.ToString());
}

/// <summary>
/// Runs client events through the real parser and pipeline (robot flag on the COUNTER robots list,
/// institution, anonymize with per-day salts; geo only when a geo database is given), then through
/// <see cref="CounterDayCalculator"/>.
/// </summary>
public sealed class CounterLab
{
    /// <summary>The day most examples happen on.</summary>
    public static readonly DateOnly Day = new(2026, 6, 9);

    private static readonly DateTime ParserNow = new(2026, 7, 1, 0, 0, 0, DateTimeKind.Utc);

    private static readonly Lazy<RobotList> CounterRobots = new(() =>
    {
        const string name = "COUNTER_Robots_list.json";
        return new RobotList(RobotList.ParsePatterns(File.ReadAllText(CoreTestKit.SharedFile("data", "counter-robots", name)), name));
    });

    public CounterLab(Action<TallyOptions>? change = null, IGeoLookup? geo = null)
    {
        var options = DefaultConfiguration.Create();
        // Without a geo database the default pipelines run without their geo step.
        if (geo is null)
            foreach (var type in options.EventTypes) type.Pipeline.RemoveAll(s => s.Step == "geo");
        change?.Invoke(options);
        Schema = TallySchema.Compile(options);
        Geo = geo;
    }

    public TallySchema Schema { get; }
    public IGeoLookup? Geo { get; }
    /// <summary>Shared by every batch, as a store keeps one salt per day.</summary>
    public ISaltSource Salts { get; } = new DailySalts();
    public static RobotList Robots => CounterRobots.Value;

    /// <summary>One request body, parsed and processed as ingest would: the pipeline sees one batch.</summary>
    public async Task<List<TallyEvent>> ProcessAsync(IEnumerable<Hit> hits)
    {
        var body = string.Join('\n', hits.Select(h => h.ToJson()));
        var batch = new EventParser(Schema, new FixedClock(ParserNow)).Parse(Encoding.UTF8.GetBytes(body));
        Assert.Empty(batch.Rejections);
        var pipeline = EventPipeline.FromSchema(Schema, Robots, Salts, Geo);
        var kept = await pipeline.ProcessAsync(batch.Events, CancellationToken.None);
        return kept.Select(i => batch.Events[i]).ToList();
    }

    /// <summary>The hits as one batch, counted for <see cref="Day"/>.</summary>
    public async Task<CounterResult> CountAsync(params Hit[] hits) => Count(Day, await ProcessAsync(hits));

    public static Task<CounterResult> RunAsync(params Hit[] hits) => new CounterLab().CountAsync(hits);

    /// <summary>One calculator for one day, fed the day's events in the order given.</summary>
    public static CounterResult Count(DateOnly day, IEnumerable<TallyEvent> events)
    {
        var calculator = new CounterDayCalculator(day);
        foreach (var e in events.Where(e => DateOnly.FromDateTime(e.Timestamp) == day)) calculator.Add(e);
        return new CounterResult(calculator.Rows());
    }
}

/// <summary>A day's rows, with sums for readable assertions.</summary>
public sealed class CounterResult(IReadOnlyList<CounterRow> rows)
{
    public IReadOnlyList<CounterRow> Rows { get; } = rows;

    /// <summary>The metric summed over all rows.</summary>
    public long this[CounterMetric metric] => Rows.Sum(r => r[metric]);

    public static string? Key(CounterRow row, CounterDimension dimension) => row.Keys[(int)dimension];

    /// <summary>The metric summed over the rows whose dimension has the value.</summary>
    public long Sum(CounterMetric metric, CounterDimension dimension, string? value) =>
        Rows.Where(r => Key(r, dimension) == value).Sum(r => r[metric]);

    /// <summary>Every metric by its report name, leaving out zeros: a readable whole-day summary.</summary>
    public IReadOnlyDictionary<string, long> Totals() =>
        CounterNames.Metrics.Where(m => this[m] != 0).ToDictionary(CounterNames.Report, m => this[m]);

    /// <summary>Rows as sorted text, for comparing two results regardless of row order.</summary>
    public IReadOnlyList<string> Normalized() =>
        Rows.Select(r => $"{r.Period:yyyy-MM-dd} [{string.Join('|', r.Keys.Select(k => k ?? "∅"))}] {string.Join(',', r.Values)}")
            .Order(StringComparer.Ordinal).ToList();
}
