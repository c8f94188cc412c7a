using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace Tally.Server.Tests;

/// <summary>
/// Every endpoint the server describes in its OpenAPI document, times every parameter it reads, times
/// every class of hostile value, against the real `tally serve` process. Each answer must be a 4xx or an
/// ordinary answer, never a 5xx, within a few seconds; after each class the process must have grown by
/// less than the memory budget and still be healthy.
/// </summary>
public sealed class HostileInputTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan PerRequest = TimeSpan.FromSeconds(5);
    private const long MemoryBudgetBytes = 300L * 1024 * 1024;

    /// <summary>The query parameters each endpoint reads, and a valid value for each route parameter.</summary>
    private static readonly Dictionary<string, (string[] Parameters, Dictionary<string, string> Route)> Endpoints = new()
    {
        ["GET /api/v1/events"] = (["start", "end", "delta", "page", "rows_per_page", "order", "type", "item_id", "not_item_id", "robot"], []),
        ["GET /api/v1/events/export"] = (["start", "end", "delta", "order", "type", "item_id", "not_item_id", "robot", "format"], []),
        ["POST /api/v1/events"] = ([], []),
        ["GET /api/v1/stats"] = ([], []),
        ["POST /api/v1/stats"] = ([], []),
        ["GET /api/v1/stats/{query}/totals"] = (["dateStart", "dateEnd", "start_date", "days", "count", "size", "offset", "groupBy", "item_id", "not_item_id"], new() { ["query"] = "record-view-top" }),
        ["GET /api/v1/stats/{query}/timeline"] = (["dateStart", "dateEnd", "end_date", "days", "interval", "item_id"], new() { ["query"] = "record-view-histogram" }),
        ["GET /api/v1/stats/{query}/extent"] = ([], new() { ["query"] = "record-view-histogram" }),
        ["POST /api/v1/admin/aggregate"] = (["from", "to", "rebuild"], []),
        ["POST /api/v1/admin/retention"] = ([], []),
        ["GET /api/v1/types"] = ([], []),
        ["GET /healthz"] = ([], []),
        ["GET /api/v1/items"] = (["id"], []),
        ["GET /api/v1/items/{id}"] = ([], new() { ["id"] = "record-1" }),
        ["PUT /api/v1/items/{id}"] = ([], new() { ["id"] = "record-1" }),
        ["PUT /api/v1/items"] = ([], []),
        ["GET /r51/status"] = ([], []),
        ["GET /r51/members"] = (["api_key"], []),
        ["GET /r51/reports"] = ([], []),
        ["GET /r51/reports/{report}"] = (["customer_id", "begin_date", "end_date", "metric_type", "data_type", "access_type", "access_method", "yop",
            "item_id", "attributes_to_show", "granularity", "include_parent_details", "include_component_details", "country_code", "subdivision_code", "format"], new() { ["report"] = "ir" }),
        ["GET /api/v1/live"] = ([], []),
        ["GET /api/v1/queries"] = ([], []),
        ["GET /api/v1/queries/{name}"] = ([], new() { ["name"] = "saved" }),
        ["PUT /api/v1/queries/{name}"] = ([], new() { ["name"] = "saved" }),
        ["DELETE /api/v1/queries/{name}"] = ([], new() { ["name"] = "gone" }),
        ["GET /api/v1/queries/{name}/result"] = (["dateStart", "dateEnd", "days", "interval"], new() { ["name"] = "saved" }),
    };

    /// <summary>Values by class; "bad encodings" go into the URL as raw percent sequences, the others escaped.</summary>
    private static readonly (string Class, string[] Values)[] ValueClasses =
    [
        ("overflowing numbers", ["1e300", "-1e300", "NaN", "Infinity", "-Infinity", "99999999999999999999999", "2147483648", "-2147483649", "-1", "0", "0x10", "1.5"]),
        ("overflowing dates", ["0001-01-01", "9999-12-31", "0000-00-00", "0001-01", "9999-12", "10000-01-01", "-0001-01-01", "2026-02-30", "-62135596800",
            "253402300800", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.9999999Z", "1e300"]),
        ("huge values", [new string('9', 6000), new string('a', 6000), string.Concat(Enumerable.Repeat("|Total_Item_Requests", 300))]),
        ("bad encodings", ["%FF%FE", "%ED%A0%80", "%00", "%C0%AF", "%E2%82", "%", "%F4%90%80%80"]),
        ("injection and traversal", ["'; DROP TABLE events; --", "../../../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "<script>alert(1)</script>",
            "${jndi:ldap://127.0.0.1/a}", "\" OR 1=1 --", "|cat /etc/passwd", "%s%s%s%n", "' UNION SELECT * FROM settings --"]),
    ];

    private string _root = null!;
    private TallyProcess _server = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _root = TestPaths.NewTempDirectory();
        var config = TestConfig.Write(_root, c => c["limits"] = new JsonObject { ["anonymousRequestsPerMinute"] = 0 });
        _server = await TallyProcess.ServeAsync(_root, Path.Combine(_root, "data"), config);
        _client = new HttpClient { BaseAddress = new Uri(_server.Url), Timeout = TimeSpan.FromSeconds(30) };
        _client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestConfig.AdminKey);
        // Something to find: events, metrics, item metadata and a saved query.
        using var events = await _client.PostAsync("/api/v1/events", new StringContent(
            """[{"type":"record-view","item_id":"record-1","user_agent":"Mozilla/5.0"},{"type":"file-download","item_id":"record-1","size":10}]""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Accepted, events.StatusCode);
        await SucceedsAsync(_client.PostAsync("/api/v1/admin/aggregate", null));
        await SucceedsAsync(_client.PutAsync("/api/v1/items/record-1", new StringContent("""{"name":"A record"}""", Encoding.UTF8, "application/json")));
        await SucceedsAsync(_client.PutAsync("/api/v1/queries/saved", new StringContent("""{"title":"Saved","stat":"record-view-histogram","chart":"line"}""", Encoding.UTF8, "application/json")));
    }

    private static async Task SucceedsAsync(Task<HttpResponseMessage> sending)
    {
        using var response = await sending;
        Assert.True(response.IsSuccessStatusCode, $"{response.RequestMessage?.RequestUri} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        _server.Dispose();
        await Task.Run(() => { try { Directory.Delete(_root, recursive: true); } catch (IOException) { } });
    }

    [Fact]
    public async Task Every_endpoint_is_covered_by_this_suite()
    {
        using var document = JsonDocument.Parse(await _client.GetStringAsync("/openapi/v1.json"));
        var described = document.RootElement.GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject().Select(method => $"{method.Name.ToUpperInvariant()} {path.Name}"))
            .ToList();
        Assert.NotEmpty(described);
        Assert.Empty(described.Except(Endpoints.Keys));
        Assert.Empty(Endpoints.Keys.Except(described));
    }

    [Fact]
    public async Task Every_parameter_and_route_value_of_every_endpoint_survives_every_class_of_hostile_value()
    {
        foreach (var (valueClass, values) in ValueClasses)
        {
            await WithinBudgetAsync(valueClass, async () =>
            {
                foreach (var (endpoint, (parameters, route)) in Endpoints)
                {
                    var (method, template) = Split(endpoint);
                    foreach (var value in values)
                    {
                        var encoded = valueClass == "bad encodings" ? value : Uri.EscapeDataString(value);
                        foreach (var parameter in parameters)
                            await ExpectBoundedAsync(method, $"{Fill(template, route)}?{parameter}={encoded}", null);
                        foreach (var name in route.Keys)
                            await ExpectBoundedAsync(method, Fill(template, new Dictionary<string, string>(route) { [name] = value }, raw: valueClass == "bad encodings"), null);
                    }
                }
            });
        }
    }

    [Fact]
    public async Task Every_body_of_every_writing_endpoint_survives_every_class_of_hostile_body()
    {
        string[] bodyEndpoints = ["POST /api/v1/events", "POST /api/v1/stats", "PUT /api/v1/items/{id}", "PUT /api/v1/items", "PUT /api/v1/queries/{name}"];
        foreach (var (bodyClass, bodies) in HostileBodies())
        {
            await WithinBudgetAsync(bodyClass, async () =>
            {
                foreach (var endpoint in bodyEndpoints)
                {
                    var (method, template) = Split(endpoint);
                    var path = Fill(template, Endpoints[endpoint].Route);
                    foreach (var (bytes, encoding) in bodies)
                    {
                        var status = await ExpectBoundedAsync(method, path, (bytes, encoding));
                        // A body of one of these classes is never taken as it stands.
                        Assert.True(status is >= 400 and < 500, $"{method} {path} with {bodyClass} ({encoding ?? "plain"}, {bytes.Length} bytes) answered {status}");
                    }
                    await ExpectMalformedChunkedIsRefusedAsync(method, path);
                }
            });
        }
    }

    private static IEnumerable<(string Class, (byte[] Bytes, string? Encoding)[] Bodies)> HostileBodies()
    {
        var valid = """[{"type":"record-view","item_id":"record-1"},{"type":"record-view","item_id":"record-2"},{"type":"record-view","item_id":"record-3"}]""";
        var gzip = HttpKit.Gzip(valid);
        var badCrc = (byte[])gzip.Clone();
        badCrc[^6] ^= 0x5a;
        yield return ("truncated bodies", [(Encoding.UTF8.GetBytes(valid[..^30]), null), (gzip[..^8], "gzip"), (gzip[..(gzip.Length / 2)], "gzip"), ([], null)]);
        yield return ("bad encodings", [
            ([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d], null),
            ("""{"type":"\udfff","item_id":"\ud800","name":"\udfff","stat":"\udfff","\udfff":1}"""u8.ToArray(), null),
            (Encoding.UTF8.GetBytes(valid), "gzip"), (badCrc, "gzip"), (gzip, "br"), (gzip, "deflate, gzip"),
            (Encoding.Unicode.GetBytes(valid), null),
        ]);
        yield return ("deep nesting", [
            (Encoding.UTF8.GetBytes(new string('[', 200_000)), null),
            (Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("{\"a\":", 5000)) + "1" + new string('}', 5000)), null),
        ]);
        yield return ("huge values", [
            (Encoding.UTF8.GetBytes($$"""{"type":"record-view","item_id":"{{new string('x', 5_000_000)}}","name":"{{new string('n', 600_000)}}","stat":"x"}"""), null),
            (new byte[40 * 1024 * 1024], null),
            (HttpKit.Gzip(new string(' ', 200 * 1024 * 1024)), "gzip"),
        ]);
        yield return ("overflowing numbers", [
            ("""{"type":"record-view","item_id":"x","size":1e999,"timestamp":"9999-12-31T23:59:59Z","yop":"99999","q":{"stat":"record-view-top","params":{"count":1e300,"dateStart":"0001-01-01"}}}"""u8.ToArray(), null),
        ]);
        yield return ("injection and traversal", [
            ("""{"type":"record-view'; DROP TABLE x; --","item_id":"../../etc/passwd","stat":"../../../etc/passwd","name":"<script>"}"""u8.ToArray(), "compress"),
        ]);
    }

    private static (string Method, string Template) Split(string endpoint) => (endpoint[..endpoint.IndexOf(' ')], endpoint[(endpoint.IndexOf(' ') + 1)..]);

    private static string Fill(string template, Dictionary<string, string> route, bool raw = false) =>
        route.Aggregate(template, (path, pair) => path.Replace($"{{{pair.Key}}}", raw ? pair.Value : Uri.EscapeDataString(pair.Value), StringComparison.Ordinal));

    /// <summary>Sends one request; its status must be below 500, and it must come within the per-request budget.</summary>
    private async Task<int> ExpectBoundedAsync(string method, string path, (byte[] Bytes, string? Encoding)? body)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (body is var (bytes, encoding))
        {
            request.Content = new ByteArrayContent(bytes);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            if (encoding is not null) request.Content.Headers.TryAddWithoutValidation("Content-Encoding", encoding);
        }
        var clock = Stopwatch.StartNew();
        using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        // The live stream never ends by design; its headers are its answer.
        if (response.Content.Headers.ContentType?.MediaType != "text/event-stream") await response.Content.ReadAsByteArrayAsync();
        clock.Stop();
        var status = (int)response.StatusCode;
        Assert.True(status < 500, $"{method} {path[..Math.Min(path.Length, 200)]} answered {status}");
        Assert.True(clock.Elapsed < PerRequest, $"{method} {path[..Math.Min(path.Length, 200)]} took {clock.Elapsed.TotalSeconds:0.0} s");
        return status;
    }

    /// <summary>A chunked body whose framing is broken, sent on a raw socket: the answer is a 400, and the server stays up.</summary>
    private async Task ExpectMalformedChunkedIsRefusedAsync(string method, string path)
    {
        var uri = new Uri(_server.Url);
        using var socket = new TcpClient();
        await socket.ConnectAsync(uri.Host, uri.Port);
        var stream = socket.GetStream();
        var head = $"{method} {path} HTTP/1.1\r\nHost: {uri.Authority}\r\nAuthorization: Bearer {TestConfig.AdminKey}\r\n" +
                   "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nZZ\r\n{\"type\":\r\n0\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        using var reader = new StreamReader(stream, Encoding.ASCII);
        var statusLine = await reader.ReadLineAsync().WaitAsync(PerRequest) ?? "";
        Assert.StartsWith("HTTP/1.1 400", statusLine, StringComparison.Ordinal);
    }

    /// <summary>Runs one class; the server must stay within the memory budget over it and answer /healthz after it.</summary>
    private async Task WithinBudgetAsync(string name, Func<Task> run)
    {
        // Linux resets the peak (VmHWM) to the current size when 5 is written here, so each class has its own peak.
        await File.WriteAllTextAsync($"/proc/{_server.ProcessId}/clear_refs", "5");
        var before = Memory("VmRSS");
        var clock = Stopwatch.StartNew();
        await run();
        var peak = Memory("VmHWM");
        var after = Memory("VmRSS");
        output.WriteLine($"{name}: {clock.Elapsed.TotalSeconds:0.0} s, RSS {before / 1048576} -> {after / 1048576} MB, peak {peak / 1048576} MB");
        Assert.True(after - before < MemoryBudgetBytes, $"{name}: the server grew from {before / 1048576} to {after / 1048576} MB");
        Assert.True(peak - before < MemoryBudgetBytes, $"{name}: the server peaked at {peak / 1048576} MB from {before / 1048576} MB");
        using var health = await _client.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    /// <summary>A figure from /proc/PID/status of the server process, in bytes.</summary>
    private long Memory(string field)
    {
        var line = File.ReadLines($"/proc/{_server.ProcessId}/status").First(l => l.StartsWith(field + ":", StringComparison.Ordinal));
        return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }
}
