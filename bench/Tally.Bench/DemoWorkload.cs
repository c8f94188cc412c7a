using Tally.Hosting.Demo;

namespace Tally.Bench;

/// <summary>
/// The events the benchmarks of the accept path share: realistic demo batches (Zipf-distributed
/// items, returning visitors, robots, double-clicks) as NDJSON.
/// </summary>
public static class DemoWorkload
{
    /// <summary>NDJSON batches of about <paramref name="eventsPerDay"/> events a day, over the <paramref name="days"/> days up to now.</summary>
    public static IEnumerable<ReadOnlyMemory<byte>> Batches(int days, int eventsPerDay, int batchSize)
    {
        var now = DateTime.UtcNow;
        return new DemoGenerator().History(now.Date.AddDays(-days + 1), now, eventsPerDay, batchSize).Select(b => b.Ndjson);
    }

    /// <summary>The first 5,000-event batch of 20,000 events a day, what the micro-benchmarks parse.</summary>
    public static ReadOnlyMemory<byte> OneBatch() => Batches(days: 2, eventsPerDay: 20_000, batchSize: 5_000).First();
}
