using System.Text.Json;

namespace Tally.Tracker.Tests;

/// <summary>Daily files in Tally's NDJSON and in PKP's usage-log format.</summary>
public sealed class FileBackendTests
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tally-tracker-files-").FullName;

    private static TrackerEvent Event(string name, DateTime utc, Dictionary<string, object?> data, Dictionary<string, object?>? context = null) =>
        new(name, DateTime.SpecifyKind(utc, DateTimeKind.Utc), context ?? [], data);

    private static List<JsonElement> Lines(string path) => [.. File.ReadAllLines(path).Select(line => JsonDocument.Parse(line).RootElement)];

    [Fact]
    public void Ndjson_files_hold_one_flat_tally_event_per_line_in_a_file_per_day_of_the_event()
    {
        using (var backend = new FileBackend(_directory, TrackerFileFormat.Ndjson))
        {
            var context = new Dictionary<string, object?> { ["user_agent"] = "Firefox", ["item_id"] = "from-context", ["type"] = "not-the-type" };
            backend.Send(Event("record-view", new DateTime(2026, 11, 21, 23, 59, 59), new() { ["item_id"] = "rec-1", ["size"] = 42 }, context));
            backend.Send(Event("file-download", new DateTime(2026, 11, 22, 0, 0, 1), new() { ["item_id"] = "rec-1" }));
            backend.Send(Event("record-view", new DateTime(2026, 11, 21, 12, 0, 0), new() { ["item_id"] = "late" }));
        }

        Assert.Equal(["events-2026-11-21.ndjson", "events-2026-11-22.ndjson"], Directory.GetFiles(_directory).Select(Path.GetFileName).Order());
        var first = Lines(Path.Combine(_directory, "events-2026-11-21.ndjson"));
        Assert.Equal(["rec-1", "late"], first.Select(e => e.GetProperty("item_id").GetString()));
        var view = first[0];
        Assert.Equal("record-view", view.GetProperty("type").GetString());
        Assert.Equal("2026-11-21T23:59:59.0000000Z", view.GetProperty("timestamp").GetString());
        Assert.Equal("Firefox", view.GetProperty("user_agent").GetString());
        Assert.Equal(42, view.GetProperty("size").GetInt32());
        Assert.Matches("^[0-9a-f]{32}-[0-9a-f]+$", view.GetProperty("id").GetString());
        Assert.Equal(1, view.EnumerateObject().Count(p => p.Name == "item_id"));
        Assert.Equal("file-download", Assert.Single(Lines(Path.Combine(_directory, "events-2026-11-22.ndjson"))).GetProperty("type").GetString());
    }

    [Fact]
    public void Pkp_lines_carry_pkps_fields_local_time_and_a_salted_ip_hash_that_changes_each_day()
    {
        var berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");
        var visitor = new Dictionary<string, object?> { ["ip"] = "192.0.2.7", ["user_agent"] = "Mozilla/5.0 (X11; Linux x86_64) Firefox/132.0", ["url"] = "https://journal.example/article/view/7" };
        Dictionary<string, object?> Galley() => new() { ["assocType"] = 0x203, ["contextId"] = 1, ["submissionId"] = 7, ["representationId"] = "3", ["submissionFileId"] = 11L, ["fileType"] = 2, ["country"] = "DE", ["institutionIds"] = new[] { 4, 9 } };
        using (var backend = new FileBackend(_directory, TrackerFileFormat.Pkp, berlin))
        {
            // 23:30 UTC on the 21st is already the 22nd in Berlin.
            backend.Send(Event("file-download", new DateTime(2026, 11, 21, 23, 30, 0), Galley(), visitor));
            backend.Send(Event("file-download", new DateTime(2026, 11, 22, 8, 0, 0), Galley(), visitor));
            backend.Send(Event("file-download", new DateTime(2026, 11, 23, 8, 0, 0), Galley(), visitor));
        }
        var lines = Lines(Path.Combine(_directory, "usage_events_20261122.log"));
        Assert.Equal(2, lines.Count);
        var line = lines[0];
        Assert.Equal("2026-11-22 00:30:00", line.GetProperty("time").GetString());
        Assert.Equal(515, line.GetProperty("assocType").GetInt32());
        Assert.Equal(3, line.GetProperty("representationId").GetInt32());
        Assert.Equal(11, line.GetProperty("submissionFileId").GetInt32());
        Assert.Equal(JsonValueKind.Null, line.GetProperty("issueId").ValueKind);
        Assert.Equal("https://journal.example/article/view/7", line.GetProperty("canonicalUrl").GetString());
        Assert.Equal("Mozilla/5.0 (X11; Linux x86_64) Firefox/132.0", line.GetProperty("userAgent").GetString());
        Assert.Equal([4, 9], line.GetProperty("institutionIds").EnumerateArray().Select(i => i.GetInt32()));

        var sameDay = lines.Select(l => l.GetProperty("ip").GetString()).Distinct().ToList();
        var hash = Assert.Single(sameDay)!;
        Assert.Matches("^[0-9a-f]{64}$", hash);
        Assert.DoesNotContain("192.0.2.7", File.ReadAllText(Path.Combine(_directory, "usage_events_20261122.log")));
        var nextDay = Assert.Single(Lines(Path.Combine(_directory, "usage_events_20261123.log"))).GetProperty("ip").GetString();
        Assert.NotEqual(hash, nextDay);
    }

    [Fact]
    public void A_restart_on_the_same_day_keeps_hashing_a_visitor_the_same_way()
    {
        var data = new Dictionary<string, object?> { ["assocType"] = 256, ["contextId"] = 1, ["ip"] = "198.51.100.1" };
        var when = new DateTime(2026, 11, 22, 9, 0, 0);
        using (var first = new FileBackend(_directory, TrackerFileFormat.Pkp)) first.Send(Event("context-view", when, data));
        using (var second = new FileBackend(_directory, TrackerFileFormat.Pkp)) second.Send(Event("context-view", when.AddHours(1), data));
        Assert.Single(Lines(Path.Combine(_directory, "usage_events_20261122.log")).Select(l => l.GetProperty("ip").GetString()).Distinct());
    }

    [Fact]
    public void An_event_pkp_cannot_express_is_refused_and_in_a_tree_the_other_backends_still_get_it()
    {
        using var pkp = new FileBackend(_directory, TrackerFileFormat.Pkp);
        var error = Assert.Throws<TrackerEventFormatException>(() => pkp.Send(Event("record-view", DateTime.UtcNow, new() { ["item_id"] = "x" })));
        Assert.Equal("event 'record-view' has no assocType, which every PKP usage-log line needs", error.Message);
        Assert.Throws<TrackerEventFormatException>(() => pkp.Send(Event("record-view", DateTime.UtcNow, new() { ["assocType"] = 256, ["contextId"] = "journal" })));

        var logger = new ListLogger();
        var memory = new MemoryBackend();
        using var metrics = new MetricsReader("pkp");
        var tree = new RoutingBackend([], [new("pkp", pkp), new("memory", memory)], logger);
        tree.Send(Event("record-view", DateTime.UtcNow, new() { ["item_id"] = "x" }));
        Assert.Single(memory.Events);
        Assert.Equal(1, metrics["tally.tracker.failed"]);
        Assert.Contains(logger.Entries, e => e.Message.Contains("pkp", StringComparison.Ordinal));
        Assert.Empty(Directory.GetFiles(_directory, "*.log"));
    }
}
