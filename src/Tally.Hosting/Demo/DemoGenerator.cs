using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Tally.Core.Configuration;

namespace Tally.Hosting.Demo;

/// <summary>NDJSON events of visits that began on or before <see cref="Through"/>.</summary>
public sealed record DemoBatch(ReadOnlyMemory<byte> Ndjson, DateOnly Through);

/// <summary>
/// Reproducible, realistic usage for the demo: a few thousand records whose popularity follows a
/// Zipf law, returning visitors, a weekly and daily rhythm, robots, double-clicks, countries and
/// referrers. Output is NDJSON, so demo events enter through the same parser and pipeline as real ones.
/// </summary>
public sealed class DemoGenerator
{
    private static readonly string[] Browsers =
    [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15",
        "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    ];

    // Each matches both the built-in list and COUNTER's.
    private static readonly string[] Robots =
    [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
        "python-requests/2.32.3",
    ];

    private static readonly (string Code, int Weight)[] Countries =
        [("US", 30), ("GB", 10), ("DE", 9), ("FR", 7), ("IN", 8), ("CN", 7), ("BR", 5), ("JP", 4), ("CA", 4), ("AU", 3), ("NL", 3), ("ES", 3), ("IT", 3), ("ZA", 2), ("MX", 2)];

    private static readonly (string? Referrer, int Weight)[] Referrers =
        [(null, 35), ("https://www.google.com/", 30), ("https://scholar.google.com/", 15), ("https://doi.org/", 8), ("https://en.wikipedia.org/", 6), ("https://bsky.app/", 4), ("https://www.bing.com/", 2)];

    private static readonly string[] Words =
        ["Coastal", "Quantum", "Microbial", "Urban", "Neural", "Glacial", "Soil", "Protein", "Climate", "Medieval", "Ocean", "Graph", "Solar", "Language", "Forest"];

    private static readonly string[] Subjects =
        ["dynamics", "survey data", "field measurements", "simulation outputs", "genome assemblies", "interview transcripts", "sensor records", "image archive"];

    private static readonly double[] HourWeights =
        [2, 1.5, 1, 1, 1, 1.5, 3, 5, 7, 8, 8.5, 8, 7, 7.5, 8, 8, 7, 6, 5, 4.5, 4, 3.5, 3, 2.5];

    /// <summary>A view, 4 % double-clicked, and 45 % of visits with one or two downloads.</summary>
    /// <summary>A visit goes on to another item with this chance, so it reads 1 / (1 - p) items on average.</summary>
    private const double AnotherItem = 0.45;
    private const double EventsPerVisit = (1 + 0.04 + 0.45 * 1.2) / (1 - AnotherItem);

    private readonly Random _random;
    private readonly int _items;
    private readonly double[] _itemCumulative;
    private readonly Visitor[] _visitors;

    private sealed record Visitor(string Ip, string UserAgent, string Country, string? UserId, bool IsRobot);

    /// <param name="robotEvery">One visitor in this many is a robot, so about that share of the events are robots'.</param>
    public DemoGenerator(int seed = 2026, int items = 3000, int visitors = 8000, int robotEvery = 40)
    {
        _random = new Random(seed);
        _items = items;
        _itemCumulative = new double[items];
        double total = 0;
        for (var i = 0; i < items; i++) _itemCumulative[i] = total += 1 / Math.Pow(i + 1, 1.07);
        _visitors = new Visitor[visitors];
        for (var i = 0; i < visitors; i++)
        {
            var robot = i % robotEvery == 0;
            _visitors[i] = new Visitor(
                $"{_random.Next(11, 223)}.{_random.Next(256)}.{_random.Next(256)}.{_random.Next(1, 255)}",
                robot ? Robots[_random.Next(Robots.Length)] : Browsers[_random.Next(Browsers.Length)],
                Pick(Countries),
                !robot && _random.NextDouble() < 0.15 ? $"user-{i}" : null,
                robot);
        }
    }

    /// <summary>Institutions whose ranges cover part of the demo visitors' addresses, so COUNTER reports have customers.</summary>
    public static IReadOnlyList<InstitutionOptions> Institutions =>
    [
        new() { CustomerId = "demo-university", Name = "Demo University", Ids = new() { ["ROR"] = ["05demo001"] }, IpRanges = ["20.0.0.0/8", "100.0.0.0/8"] },
        new() { CustomerId = "example-institute", Name = "Example Institute of Technology", Ids = new() { ["ISNI"] = ["0000000121032683"] }, IpRanges = ["150.0.0.0/8"] },
    ];

    public static string ItemId(int index) => $"record-{index + 1:D5}";

    public static string ItemName(int index)
    {
        var random = new Random(index);
        return $"{Words[random.Next(Words.Length)]} {Subjects[random.Next(Subjects.Length)]} {1990 + random.Next(36)}";
    }

    /// <summary>
    /// Usage for each day in [from, to), about <paramref name="eventsPerDay"/> a day, as NDJSON
    /// batches of up to <paramref name="batchSize"/> events. Ids derive from the time and position,
    /// so generating the same history twice stores it once.
    /// </summary>
    public IEnumerable<DemoBatch> History(DateTime from, DateTime to, int eventsPerDay, int batchSize)
    {
        var buffer = new ArrayBufferWriter<byte>(1 << 20);
        var inBatch = 0;
        for (var day = from.Date; day < to; day = day.AddDays(1))
        {
            var visits = (int)(eventsPerDay / EventsPerVisit * Rhythm(from, day) * (0.85 + 0.3 * _random.NextDouble()));
            for (var v = 0; v < visits; v++)
            {
                var start = day.AddHours(PickHour()).AddSeconds(_random.Next(3600));
                if (start >= to) continue;
                var id = $"demo-{start.Ticks / TimeSpan.TicksPerSecond:x}-{v:x}";
                var written = WriteVisit(buffer, start, id, to);
                inBatch += written;
                if (inBatch >= batchSize)
                {
                    yield return new DemoBatch(buffer.WrittenMemory.ToArray(), DateOnly.FromDateTime(day));
                    buffer.ResetWrittenCount();
                    inBatch = 0;
                }
            }
        }
        if (inBatch > 0) yield return new DemoBatch(buffer.WrittenMemory.ToArray(), DateOnly.FromDateTime(to.AddTicks(-1)));
    }

    /// <summary>
    /// The events a day that make <see cref="History"/> over [from, to) about <paramref name="events"/> long:
    /// a little more, by a margin that covers the days' random share at three standard deviations and more.
    /// </summary>
    public static int EventsPerDayFor(long events, DateTime from, DateTime to)
    {
        double days = 0, rhythm = 0;
        for (var day = from.Date; day < to; day = day.AddDays(1), days++) rhythm += Rhythm(from, day);
        return (int)Math.Ceiling(events * (1 + 0.3 / Math.Sqrt(days)) / rhythm);
    }

    /// <summary>A day's share of the average day: quieter weekends, and slow growth since <paramref name="from"/>.</summary>
    private static double Rhythm(DateTime from, DateTime day) =>
        (day.DayOfWeek is DayOfWeek.Saturday or DayOfWeek.Sunday ? 0.6 : 1.0) * (1 + 0.004 * (day - from.Date).TotalDays);

    /// <summary>A handful of visits happening now, as NDJSON.</summary>
    public ReadOnlyMemory<byte> Live(DateTime now, int visits)
    {
        var buffer = new ArrayBufferWriter<byte>();
        for (var v = 0; v < visits; v++) WriteVisit(buffer, now.AddMilliseconds(-_random.Next(2000)), Guid.CreateVersion7().ToString("N"), now.AddSeconds(1));
        return buffer.WrittenMemory;
    }

    /// <summary>
    /// A visit: one visitor's session reading one item or more, each a record view often followed by a
    /// download, sometimes double-clicked; only the first item is reached from a referrer.
    /// </summary>
    private int WriteVisit(ArrayBufferWriter<byte> buffer, DateTime start, string id, DateTime limit)
    {
        var visitor = _visitors[_random.Next(_visitors.Length)];
        var referrer = Pick(Referrers);
        var session = $"s{_random.Next():x}";
        var written = 0;
        for (var page = 0; page == 0 || _random.NextDouble() < AnotherItem; page++)
        {
            var item = PickItem();
            void Write(string type, DateTime at, string suffix)
            {
                if (at >= limit) return;
                WriteEvent(buffer, type, at, page == 0 ? id + suffix : $"{id}p{page}{suffix}", item, visitor, session, page == 0 ? referrer : null);
                written++;
            }

            Write("record-view", start, "v");
            if (_random.NextDouble() < 0.04) Write("record-view", start.AddSeconds(_random.Next(2, 25)), "vv");
            var downloads = _random.NextDouble() < 0.45 ? 1 + (_random.NextDouble() < 0.2 ? 1 : 0) : 0;
            for (var d = 0; d < downloads; d++) Write("file-download", start.AddSeconds(20 + _random.Next(600)), $"d{d}");
            start = start.AddSeconds(30 + _random.Next(300));
        }
        return written;
    }

    private void WriteEvent(ArrayBufferWriter<byte> buffer, string type, DateTime at, string id, int item, Visitor visitor, string session, string? referrer)
    {
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("type", type);
            json.WriteString("id", id);
            json.WriteString("timestamp", at.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
            json.WriteString("item_id", ItemId(item));
            json.WriteString("item_name", ItemName(item));
            WriteCounterMetadata(json, item);
            json.WriteString("url", $"https://repository.example.org/records/{item + 1}" + (type == "file-download" ? "/files/data.zip" : ""));
            json.WriteString("ip", visitor.Ip);
            json.WriteString("user_agent", visitor.UserAgent);
            json.WriteString("session_id", session);
            if (visitor.UserId is not null) json.WriteString("user_id", visitor.UserId);
            if (referrer is not null) json.WriteString("referrer", referrer);
            json.WriteString("country", visitor.Country);
            if (type == "file-download") json.WriteNumber("size", 50_000 + (item * 7919L % 40_000_000));
            json.WriteEndObject();
        }
        buffer.Write("\n"u8);
    }

    /// <summary>
    /// What COUNTER reports need: most items are datasets; some are articles in 12 journals, and some
    /// chapters of 40 books. A fifth of the content is open access.
    /// </summary>
    private static void WriteCounterMetadata(Utf8JsonWriter json, int item)
    {
        json.WriteString("publisher", "Demo University Press");
        json.WriteString("yop", (2000 + item % 26).ToString(CultureInfo.InvariantCulture));
        json.WriteString("doi", $"10.5555/demo.{item + 1}");
        json.WriteString("access_type", item % 5 == 0 ? "Open" : "Controlled");
        switch (item % 10)
        {
            case 6 or 7 or 8:
                var journal = item % 12 + 1;
                json.WriteString("data_type", "Article");
                json.WriteString("title_id", $"journal-{journal:D2}");
                json.WriteString("title_name", $"Journal of {Words[journal % Words.Length]} Studies");
                json.WriteString("online_issn", $"2049-36{journal:D2}");
                break;
            case 9:
                var book = item % 40 + 1;
                json.WriteString("data_type", "Book_Segment");
                json.WriteString("title_id", $"book-{book:D2}");
                json.WriteString("title_name", $"A Handbook of {Words[book % Words.Length]} {Subjects[book % Subjects.Length]}");
                json.WriteString("isbn", $"978-1-5555-{book:D4}-{book % 10}");
                break;
            default:
                json.WriteString("data_type", "Dataset");
                break;
        }
    }

    private int PickItem()
    {
        var index = Array.BinarySearch(_itemCumulative, _random.NextDouble() * _itemCumulative[^1]);
        return Math.Min(index < 0 ? ~index : index, _items - 1);
    }

    private int PickHour()
    {
        var target = _random.NextDouble() * HourWeights.Sum();
        for (var hour = 0; hour < HourWeights.Length; hour++)
        {
            target -= HourWeights[hour];
            if (target < 0) return hour;
        }
        return HourWeights.Length - 1;
    }

    private T Pick<T>((T Value, int Weight)[] choices)
    {
        var target = _random.Next(choices.Sum(c => c.Weight));
        foreach (var (value, weight) in choices)
        {
            if ((target -= weight) < 0) return value;
        }
        return choices[^1].Value;
    }
}
