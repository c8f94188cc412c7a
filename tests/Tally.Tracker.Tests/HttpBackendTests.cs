namespace Tally.Tracker.Tests;

/// <summary>The HTTP backend's spool and retry rules that need no Tally; delivery itself is tested against a real Tally process in Tally.Server.Tests.</summary>
public sealed class HttpBackendTests
{
    private static TrackerEvent Event(int i) => new("record-view", DateTime.UtcNow, new Dictionary<string, object?>(), new Dictionary<string, object?> { ["item_id"] = $"r{i}" });

    [Fact]
    public async Task Past_its_size_limit_the_spool_drops_its_oldest_batches_and_counts_the_events()
    {
        var spool = Directory.CreateTempSubdirectory("tally-tracker-spool-").FullName;
        var name = $"limited-{Guid.NewGuid():N}";
        using var metrics = new MetricsReader(name);
        // Nothing listens on port 9 (discard), so every batch waits in the spool.
        await using (var backend = new HttpBackend(new HttpBackendOptions
        {
            Url = new Uri("http://127.0.0.1:9/"), SpoolDirectory = spool, BatchSize = 10, MaxSpoolBytes = 1, ShutdownTimeout = TimeSpan.Zero,
        }, name))
        {
            for (var i = 0; i < 50; i++) backend.Send(Event(i));
            Assert.Equal(10, backend.Pending);
        }
        Assert.Equal(40, metrics["tally.tracker.dropped"]);
        Assert.Single(Directory.GetFiles(spool, "*.ndjson.gz"));
    }

    [Fact]
    public async Task A_second_process_cannot_share_a_spool()
    {
        var spool = Directory.CreateTempSubdirectory("tally-tracker-spool-").FullName;
        var options = new HttpBackendOptions { Url = new Uri("http://127.0.0.1:9/"), SpoolDirectory = spool };
        await using var first = new HttpBackend(options);
        var error = Assert.Throws<SpoolBusyException>(() => new HttpBackend(options));
        Assert.Contains(spool, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1, 500)]
    [InlineData(2, 1000)]
    [InlineData(4, 4000)]
    [InlineData(20, 60000)]
    [InlineData(int.MaxValue, 60000)]
    public void Retry_delays_are_jittered_below_an_exponential_ceiling(int attempt, double ceilingMs)
    {
        var delays = Enumerable.Range(0, 200).Select(_ => Backoff.Delay(attempt, TimeSpan.FromMilliseconds(500), TimeSpan.FromMinutes(1)).TotalMilliseconds).ToList();
        Assert.All(delays, d => Assert.InRange(d, 0, ceilingMs));
        Assert.True(delays.Distinct().Count() > 150, "delays should be spread, not in step");
        Assert.True(delays.Max() > ceilingMs / 2, "delays should use the range up to the ceiling");
    }
}
