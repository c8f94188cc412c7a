using Tally.Hosting.Demo;

namespace Tally.Bench;

/// <summary>
/// Realistic usage at any size for `tally bench --scale`: the demo's visits (Zipf popularity, returning
/// readers, sessions over several items, double-clicks, views and downloads, COUNTER metadata) over
/// 50,000 items, with one visitor in 16 a robot on COUNTER's list, streamed to an NDJSON file batch by batch.
/// </summary>
public static class ScaleWorkload
{
    public const int Items = 50_000;

    /// <summary>About 6 % of visitors, and so of events, are robots.</summary>
    private const int RobotEvery = 16;

    /// <summary>
    /// Writes exactly <paramref name="events"/> events over [from, to) to <paramref name="path"/>, the same for the same seed;
    /// the generator's margin means the last hours of the range may be cut. Returns the events written, fewer only if the
    /// generator fell short of its own margin.
    /// </summary>
    public static async Task<long> WriteAsync(string path, long events, DateTime from, DateTime to, int seed, CancellationToken cancellationToken)
    {
        // Each reader comes back about 25 times; the bound keeps the generator's memory small at any size.
        var visitors = (int)Math.Clamp(events / 25, 2_000, 200_000);
        var generator = new DemoGenerator(seed, Items, visitors, RobotEvery);
        await using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        long written = 0;
        foreach (var batch in generator.History(from, to, DemoGenerator.EventsPerDayFor(events, from, to), batchSize: 5_000))
        {
            var lines = batch.Ndjson;
            var inBatch = lines.Span.Count((byte)'\n');
            if (written + inBatch >= events)
            {
                await file.WriteAsync(lines[..EndOfLine(lines.Span, (int)(events - written))], cancellationToken);
                return events;
            }
            await file.WriteAsync(lines, cancellationToken);
            written += inBatch;
        }
        return written;
    }

    /// <summary>The length of the first <paramref name="count"/> lines of <paramref name="ndjson"/>.</summary>
    private static int EndOfLine(ReadOnlySpan<byte> ndjson, int count)
    {
        var end = 0;
        for (var i = 0; i < count; i++) end += ndjson[end..].IndexOf((byte)'\n') + 1;
        return end;
    }
}
