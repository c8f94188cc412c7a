using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Ingest;
using Xunit.Abstractions;

namespace Tally.Server.Tests;

/// <summary>
/// GET /api/v1/events/export over real HTTP: every event the raw API's pages list for the same parameters,
/// in the same order and anonymized the same way, as NDJSON or CSV; the robot filter on both; bad parameters
/// named; and a big export streamed in bounded memory by the real `tally serve` process.
/// </summary>
public sealed class ExportTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Browser = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0";
    private const string Googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
    private TallyHost _host = null!;

    public async Task InitializeAsync() => _host = await TallyHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    /// <summary>
    /// 240 views and downloads over the last 40 minutes, six at each whole minute (ties in time within and across
    /// types), every fourth by Googlebot, over items a, b and c, some with an undeclared field. Returns how many are robots'.
    /// </summary>
    private async Task<int> PostMixedEventsAsync()
    {
        var now = DateTime.UtcNow;
        var lines = Enumerable.Range(0, 240).Select(i => JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["type"] = i % 3 == 0 ? "file-download" : "record-view",
            ["id"] = $"e{i:D3}",
            ["item_id"] = ((string[])["a", "b", "c"])[i % 3 == 0 ? i / 3 % 3 : i % 3],
            ["user_agent"] = i % 4 == 0 ? Googlebot : Browser,
            ["ip"] = $"198.51.100.{i}",
            ["timestamp"] = now.AddMinutes(-(i % 40) - 1).ToString("yyyy-MM-ddTHH:mm:00Z"),
            ["note"] = i % 5 == 0 ? $"203.0.113.{i}" : $"n{i}",
        }));
        using var response = await _host.PostEventsAsync(string.Join('\n', lines), contentType: "application/x-ndjson");
        Assert.Equal(240, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("stored").GetInt32());
        return 60;
    }

    private async Task<(string ContentType, string Body)> ExportAsync(string query, string? accept = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/events/export?" + query);
        if (accept is not null) request.Headers.Accept.ParseAdd(accept);
        using var response = await _host.Client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{query} answered {(int)response.StatusCode}: {body}");
        return (response.Content.Headers.ContentType!.MediaType!, body);
    }

    private static List<JsonNode> NdjsonLines(string body)
    {
        Assert.True(body.Length == 0 || body.EndsWith('\n'), "every line ends with a newline");
        return [.. body.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonNode.Parse(line)!)];
    }

    /// <summary>Every page of the raw API for the query, as JSON messages and as CSV records (the header once, first).</summary>
    private async Task<(List<JsonNode> Messages, List<string[]> Csv)> AllRawPagesAsync(string query)
    {
        var messages = new List<JsonNode>();
        var csv = new List<string[]>();
        for (var page = 1; ; page++)
        {
            var path = $"/api/v1/events?{query}&rows_per_page=7&page={page}";
            var json = JsonNode.Parse((await _host.GetJsonAsync(path)).GetRawText())!;
            var raw = json["raw_messages"]!.AsArray();
            messages.AddRange(raw.Select(m => m!.DeepClone()));
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Accept.ParseAdd("text/csv");
            using var response = await _host.Client.SendAsync(request);
            var records = Csv.Parse(await response.Content.ReadAsStringAsync());
            csv.AddRange(page == 1 ? records : records.Skip(1));
            if (raw.Count < 7) return (messages, csv);
        }
    }

    [Theory]
    [InlineData("delta=3600")]
    [InlineData("delta=3600&order=asc&type=record-view&not_item_id=a")]
    [InlineData("delta=3600&robot=true")]
    [InlineData("delta=3600&item_id=b&item_id=c&robot=false&order=asc")]
    [InlineData("end={now}&delta=1800&not_item_id=b&order=asc")]
    public async Task An_export_is_every_page_of_the_raw_api_for_the_same_parameters(string query)
    {
        // A window that ends now would move between the pages and the export, and could pass an event at a minute's turn.
        query = query.Replace("{now}", DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture));
        await PostMixedEventsAsync();
        var (messages, csv) = await AllRawPagesAsync(query);
        Assert.NotEmpty(messages);

        var (ndjsonType, ndjson) = await ExportAsync(query);
        Assert.Equal("application/x-ndjson", ndjsonType);
        var lines = NdjsonLines(ndjson);
        Assert.Equal(messages.Count, lines.Count);
        for (var i = 0; i < lines.Count; i++)
            Assert.True(JsonNode.DeepEquals(messages[i], lines[i]), $"line {i}: {lines[i].ToJsonString()} differs from {messages[i].ToJsonString()}");

        var (csvType, exported) = await ExportAsync(query + "&format=csv");
        Assert.Equal("text/csv", csvType);
        Assert.Equal(csv, Csv.Parse(exported));
    }

    [Fact]
    public async Task Robot_true_gives_only_robots_and_false_only_the_rest_on_the_raw_api_and_the_export()
    {
        var robots = await PostMixedEventsAsync();
        var onlyRobots = await _host.GetJsonAsync("/api/v1/events?delta=3600&robot=true&rows_per_page=100");
        Assert.Equal(robots, onlyRobots.GetProperty("total").GetInt32());
        Assert.All(onlyRobots.GetProperty("raw_messages").EnumerateArray(), m => Assert.True(m.GetProperty("robot").GetBoolean()));
        Assert.True(onlyRobots.GetProperty("arguments").GetProperty("robot").GetBoolean());
        Assert.Equal(240 - robots, (await _host.GetJsonAsync("/api/v1/events?delta=3600&robot=false")).GetProperty("total").GetInt32());
        Assert.Equal(240, (await _host.GetJsonAsync("/api/v1/events?delta=3600")).GetProperty("total").GetInt32());

        var exported = NdjsonLines((await ExportAsync("delta=3600&robot=true")).Body);
        Assert.Equal(robots, exported.Count);
        Assert.All(exported, m => Assert.True(m["robot"]!.GetValue<bool>()));
        var people = NdjsonLines((await ExportAsync("delta=3600&robot=false")).Body);
        Assert.Equal(240 - robots, people.Count);
        Assert.All(people, m => Assert.False(m["robot"]!.GetValue<bool>()));
    }

    [Fact]
    public async Task Csv_has_a_header_and_quotes_commas_quotes_and_line_breaks_in_utf8()
    {
        string[] awkward = ["a,b", "say \"hi\"", "two\nlines", "cr\r\nlf", "é ü 中文 🙂", " padded ", "plain"];
        await _host.PostEventsAsync(string.Join('\n', awkward.Select((item, i) =>
            JsonSerializer.Serialize(new { type = "record-view", id = $"q{i}", item_id = item, user_agent = Browser }))), contentType: "application/x-ndjson");

        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/events/export?delta=3600&order=asc");
        request.Headers.Accept.ParseAdd("text/csv");
        using var response = await _host.Client.SendAsync(request);
        Assert.Equal("text/csv", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal("utf-8", response.Content.Headers.ContentType.CharSet);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        Assert.False(bytes.AsSpan().StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]), "no byte order mark");
        var text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        Assert.Contains("\"a,b\"", text);
        Assert.Contains("\"say \"\"hi\"\"\"", text);
        Assert.Contains("\"two\nlines\"", text);

        var records = Csv.Parse(text);
        Assert.Equal(["id", "type", "timestamp", "robot", "visitor", "session", "item_id", "ip", "user_agent", "user_id", "session_id", "size"], records[0]);
        Assert.All(records, r => Assert.Equal(records[0].Length, r.Length));
        var itemColumn = Array.IndexOf(records[0], "item_id");
        Assert.Equal(awkward, records.Skip(1).Select(r => r[itemColumn]));
        Assert.Equal(awkward.Select((_, i) => $"q{i}"), records.Skip(1).Select(r => r[0]));
    }

    [Fact]
    public async Task The_export_hides_addresses_and_mends_old_rows_as_the_raw_api_does()
    {
        await PostMixedEventsAsync();
        // Written straight to the store, as an older Tally accepted it: lone surrogates (the store keeps the declared one as U+FFFD),
        // an address in a declared field, and addresses among the undeclared fields.
        var type = _host.Get<TallySchema>().EventTypes["record-view"];
        var values = new object?[type.Fields.Count];
        values[type.OrdinalOf("item_id")] = "bad\udfff";
        values[type.OrdinalOf("ip")] = "198.51.100.250";
        var old = new TallyEvent(type, "old-poison", DateTime.UtcNow.AddSeconds(-5), values, """{"note":"\udfff","ip":"198.51.100.251","peer":{"addr":"198.51.100.252","n":1}}""");
        await _host.Get<GroupCommitWriter>().WriteAsync([old], CancellationToken.None);

        var (_, ndjson) = await ExportAsync("delta=3600");
        var (_, csv) = await ExportAsync("delta=3600&format=csv");
        foreach (var body in (string[])[ndjson, csv])
        {
            Assert.DoesNotContain("198.51.100.", body);
            Assert.DoesNotContain("203.0.113.", body);
        }
        var poison = NdjsonLines(ndjson).Single(m => (string?)m["id"] == "old-poison");
        Assert.Equal("""{"item_id":"bad\uFFFD","note":"\uFFFD","peer":{"n":1}}""", poison["data"]!.ToJsonString());
        var header = Csv.Parse(csv)[0];
        Assert.Equal("bad\uFFFD", Csv.Parse(csv).Single(r => r[0] == "old-poison")[Array.IndexOf(header, "item_id")]);
    }

    [Fact]
    public async Task Accept_chooses_the_format_unless_format_is_given()
    {
        await PostMixedEventsAsync();
        Assert.Equal("text/csv", (await ExportAsync("delta=3600", "text/csv")).ContentType);
        Assert.Equal("application/x-ndjson", (await ExportAsync("delta=3600", "application/x-ndjson")).ContentType);
        Assert.Equal("text/csv", (await ExportAsync("delta=3600", "application/x-ndjson;q=0.5, text/csv")).ContentType);
        Assert.Equal("application/x-ndjson", (await ExportAsync("delta=3600", "*/*")).ContentType);
        Assert.Equal("application/x-ndjson", (await ExportAsync("delta=3600&format=ndjson", "text/csv")).ContentType);
        Assert.Equal("text/csv", (await ExportAsync("delta=3600&format=csv", "application/x-ndjson")).ContentType);
        Assert.Empty((await ExportAsync("delta=60&type=file-download&item_id=none")).Body);
    }

    [Theory]
    [InlineData("/api/v1/events/export?format=xml", "format")]
    [InlineData("/api/v1/events/export?page=2", "page")]
    [InlineData("/api/v1/events/export?rows_per_page=100", "rows_per_page")]
    [InlineData("/api/v1/events/export?robot=yes", "robot")]
    [InlineData("/api/v1/events/export?delta=99999999", "delta")]
    [InlineData("/api/v1/events/export?delta=60&start=2001-01-01T00:00:00Z&end=2003-01-01T00:00:00Z", "start")]
    [InlineData("/api/v1/events/export?start=yesterday", "start")]
    [InlineData("/api/v1/events/export?order=sideways", "order")]
    [InlineData("/api/v1/events/export?type=nope", "type")]
    [InlineData("/api/v1/events/export?colour=red", "colour")]
    [InlineData("/api/v1/events?robot=1", "robot")]
    public async Task Bad_parameters_are_problems_that_name_them(string path, string field)
    {
        using var response = await _host.Client.GetAsync(path);
        await HttpKit.ProblemAsync(response, HttpStatusCode.BadRequest, field);
    }

    /// <summary>
    /// The real `tally serve` with limits.requestTimeoutSeconds at 1: 50,000 events of about 1.5 KB (some 75 MB of
    /// NDJSON) leave through a client that stops reading for longer than that budget. Every event arrives, and the
    /// server's peak memory grows by about 40 MB (under 96 MB allowed), where holding the export whole grows it by about 200 MB.
    /// </summary>
    [Fact]
    public async Task A_big_export_streams_in_bounded_memory_and_outlasts_the_request_time_budget()
    {
        const int Events = 50_000;
        var root = _host.DataDirectory;
        // A budget of 3 s: short enough that the client's pause outlasts it, long enough that each 1,000-event read from the store fits it on a busy machine.
        TestConfig.Write(root, c => c["limits"] = new JsonObject { ["requestTimeoutSeconds"] = 3, ["anonymousRequestsPerMinute"] = 0 });
        var padding = new string('p', 1500);
        for (var start = 0; start < Events; start += 5000)
        {
            var body = string.Join('\n', Enumerable.Range(start, 5000).Select(i => $$"""{"type":"record-view","id":"big-{{i}}","item_id":"item-{{i}}-{{padding}}","user_agent":"{{Browser}}"}"""));
            using var response = await _host.PostEventsAsync(body, contentType: "application/x-ndjson");
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }
        // Aggregated here, then served by a fresh process, so that its memory holds nothing of the ingest or of aggregation.
        await _host.AggregateAsync();
        await _host.StopKeepingDataAsync();
        using var cleanUp = new TemporaryDirectory(root);
        using var server = await TallyProcess.ServeAsync(root, Path.Combine(root, "data"), Path.Combine(root, "tally.json"));
        using var client = new HttpClient { BaseAddress = new Uri(server.Url), Timeout = TimeSpan.FromMinutes(5) };

        await File.WriteAllTextAsync($"/proc/{server.ProcessId}/clear_refs", "5");
        var before = Memory(server, "VmRSS");
        var clock = Stopwatch.StartNew();
        using var export = await client.GetAsync("/api/v1/events/export?delta=7200&order=asc", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, export.StatusCode);
        using var reader = new StreamReader(await export.Content.ReadAsStreamAsync(), Encoding.UTF8);
        var count = 0;
        string? last = null;
        while (await reader.ReadLineAsync() is { } line)
        {
            // Stops reading for longer than the time budget; the server waits on the client meanwhile.
            if (count++ == 100) await Task.Delay(TimeSpan.FromSeconds(4));
            last = line;
        }
        var peak = Memory(server, "VmHWM");
        output.WriteLine($"{count} events in {clock.Elapsed.TotalSeconds:0.0} s; RSS {before / 1048576} MB, peak {peak / 1048576} MB");
        Assert.Equal(Events, count);
        Assert.Equal($"big-{Events - 1}", JsonNode.Parse(last!)!["id"]!.GetValue<string>());
        Assert.True(peak - before < 96L * 1024 * 1024, $"the server peaked at {peak / 1048576} MB from {before / 1048576} MB");
    }

    /// <summary>A figure from /proc/PID/status of the server process, in bytes.</summary>
    private static long Memory(TallyProcess server, string field)
    {
        var line = File.ReadLines($"/proc/{server.ProcessId}/status").First(l => l.StartsWith(field + ":", StringComparison.Ordinal));
        return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }
}

/// <summary>Deletes a folder when disposed, after whatever was disposed before it (a process holding its files).</summary>
internal sealed class TemporaryDirectory(string path) : IDisposable
{
    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(path, recursive: true); }
        catch (IOException) { }
    }
}

/// <summary>RFC 4180 read plainly, apart from the writer under test: quoted fields may hold separators, doubled quotes and line breaks.</summary>
public static class Csv
{
    public static List<string[]> Parse(string text)
    {
        var records = new List<string[]>();
        var fields = new List<string>();
        var field = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (quoted)
            {
                if (c != '"') field.Append(c);
                else if (i + 1 < text.Length && text[i + 1] == '"') field.Append(text[++i]);
                else quoted = false;
            }
            else if (c == '"') quoted = true;
            else if (c == ',') fields.Add(Take(field));
            else if (c == '\r' && i + 1 < text.Length && text[i + 1] == '\n')
            {
                fields.Add(Take(field));
                records.Add([.. fields]);
                fields.Clear();
                i++;
            }
            else field.Append(c);
        }
        Assert.False(quoted, "a quoted field is left open");
        Assert.True(field.Length == 0 && fields.Count == 0, "every record ends with CRLF");
        return records;
    }

    private static string Take(StringBuilder field)
    {
        var value = field.ToString();
        field.Clear();
        return value;
    }
}
