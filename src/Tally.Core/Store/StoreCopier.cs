using System.Globalization;
using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Events;

namespace Tally.Core.Store;

/// <summary>How far a copy has come: events read from the source so far, of how many.</summary>
public sealed record CopyProgress(string Step, long EventsDone, long EventsTotal);

/// <summary>What a copy did, and whether every raw partition of the target now holds what the source holds.</summary>
public sealed record CopyResult(long EventsCopied, long EventsAlreadyThere, int PartitionsSkipped, long MetricRows, long Items, IReadOnlyList<string> Mismatches, IReadOnlyList<string> UnknownTypes);

/// <summary>
/// Copies a whole store into another, whatever their engines: raw events, aggregation and COUNTER
/// metrics, item metadata, saved queries, settings (bookmarks), salts and the days awaiting aggregation.
/// <para>
/// It can be stopped at any point and run again. Events keep their ids, so a partition copied
/// twice stores each event once; a partition whose event count has not changed since it was
/// copied is skipped, so a second run over a site that kept running copies only what is new.
/// </para>
/// </summary>
public sealed class StoreCopier(TallySchema schema, IEventStore source, IEventStore target, string sourceName)
{
    private const int BatchSize = 10_000;
    private static readonly DateOnly Beginning = new(1970, 1, 1), End = new(2200, 1, 1);
    /// <summary>Bookmarks live in the target, named after the source, so copies from several sources do not mix.</summary>
    private readonly string _bookmarkPrefix = $"migrate:{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(sourceName)))[..16]}:";

    public async Task<CopyResult> CopyAsync(IProgress<CopyProgress>? progress, CancellationToken cancellationToken)
    {
        await target.SetupAsync(schema, cancellationToken);
        // Salts first: events keep their visitor and session hashes, and today's new events must hash alike.
        await target.WriteStateAsync(await source.ReadStateAsync(cancellationToken), cancellationToken);

        var partitions = await source.ListPartitionsAsync(cancellationToken);
        var total = partitions.Sum(p => p.Events);
        long done = 0, copied = 0, alreadyThere = 0;
        var skipped = 0;
        var unknown = new List<string>();
        foreach (var partition in partitions)
        {
            if (!schema.EventTypes.TryGetValue(partition.EventType, out var type))
            {
                if (!unknown.Contains(partition.EventType)) unknown.Add(partition.EventType);
                done += partition.Events;
                continue;
            }
            var bookmark = _bookmarkPrefix + $"events:{type.Name}:{partition.Start.ToString("O", CultureInfo.InvariantCulture)}";
            var eventsWhenCopied = partition.Events.ToString(CultureInfo.InvariantCulture);
            if (await target.GetSettingAsync(bookmark, cancellationToken) == eventsWhenCopied)
            {
                skipped++;
                done += partition.Events;
                progress?.Report(new CopyProgress("events", done, total));
                continue;
            }
            var batch = new List<TallyEvent>(BatchSize);
            await foreach (var e in source.ScanAsync(type, partition.Start, partition.End, type.Fields, withExtra: true, cancellationToken))
            {
                batch.Add(e);
                if (batch.Count < BatchSize) continue;
                (copied, alreadyThere) = await AppendAsync(batch, copied, alreadyThere, cancellationToken);
                done += batch.Count;
                batch.Clear();
                progress?.Report(new CopyProgress($"events {type.Name} {partition.Start:yyyy-MM-dd}", done, total));
            }
            (copied, alreadyThere) = await AppendAsync(batch, copied, alreadyThere, cancellationToken);
            done += batch.Count;
            await target.SetSettingAsync(bookmark, eventsWhenCopied, cancellationToken);
            progress?.Report(new CopyProgress($"events {type.Name} {partition.Start:yyyy-MM-dd}", done, total));
        }

        progress?.Report(new CopyProgress("metrics", done, total));
        var metricRows = await CopyMetricsAsync(cancellationToken) + await CopyCounterMetricsAsync(cancellationToken);
        progress?.Report(new CopyProgress("items", done, total));
        var items = await CopyItemsAsync(cancellationToken);
        progress?.Report(new CopyProgress("saved queries", done, total));
        await CopySavedQueriesAsync(cancellationToken);
        // The target aggregates exactly the days the source had not aggregated yet: its copied metrics stand for the rest.
        await target.ClearDirtyAsync(await target.GetDirtyDaysAsync(cancellationToken), cancellationToken);
        foreach (var day in await source.GetDirtyDaysAsync(cancellationToken))
        {
            if (schema.EventTypes.TryGetValue(day.EventType, out var type)) await target.MarkDirtyAsync(type, day.Day, day.Day, cancellationToken);
        }
        return new CopyResult(copied, alreadyThere, skipped, metricRows, items, await CompareAsync(partitions, cancellationToken), unknown);
    }

    private async Task<(long Copied, long AlreadyThere)> AppendAsync(List<TallyEvent> batch, long copied, long alreadyThere, CancellationToken cancellationToken)
    {
        if (batch.Count == 0) return (copied, alreadyThere);
        var stored = await target.AppendAsync(batch, cancellationToken);
        var fresh = stored.Count(s => s);
        return (copied + fresh, alreadyThere + stored.Length - fresh);
    }

    private async Task<long> CopyMetricsAsync(CancellationToken cancellationToken)
    {
        long rows = 0;
        foreach (var aggregation in schema.Aggregations.Values)
        {
            foreach (var period in (MetricPeriod[])[MetricPeriod.Day, MetricPeriod.Month])
            {
                // One cheap pass finds the periods that have rows, then each period is copied row for row.
                var periods = await source.ReadMetricsAsync(new MetricQuery(aggregation, period, Beginning, End, [], true, []), cancellationToken);
                foreach (var start in periods.Select(p => p.Period))
                {
                    var read = await MetricQuery.ReadEveryGroupingAsync(source, aggregation, period, start, start, cancellationToken);
                    await target.ReplaceMetricsAsync(aggregation, period, start, read, cancellationToken);
                    rows += read.Count;
                }
            }
        }
        return rows;
    }

    private async Task<long> CopyCounterMetricsAsync(CancellationToken cancellationToken)
    {
        if (await OpenMonths.CounterMonthsAsync(source, source, cancellationToken) is not var (first, last)) return 0;
        long rows = 0;
        var none = new Dictionary<CounterDimension, IReadOnlyList<string?>>();
        for (var month = first; month <= last; month = month.AddMonths(1))
        {
            var monthly = await source.ReadCounterMetricsAsync(new CounterQuery(MetricPeriod.Month, month, month, none, CounterNames.Dimensions, true), cancellationToken);
            await target.ReplaceCounterMetricsAsync(MetricPeriod.Month, month, monthly, cancellationToken);
            rows += monthly.Count;
            for (var day = month; day < month.AddMonths(1); day = day.AddDays(1))
            {
                var daily = await source.ReadCounterMetricsAsync(new CounterQuery(MetricPeriod.Day, day, day, none, CounterNames.Dimensions, false), cancellationToken);
                var rowsOfDay = daily.Select(r => Dated(r, day)).ToList();
                await target.ReplaceCounterMetricsAsync(MetricPeriod.Day, day, rowsOfDay, cancellationToken);
                rows += rowsOfDay.Count;
            }
        }
        return rows;
    }

    /// <summary>Rows read without a month bucket carry no period; a replace wants the day they belong to.</summary>
    private static CounterRow Dated(CounterRow row, DateOnly day)
    {
        var dated = new CounterRow(day, row.Keys);
        dated.Add(row);
        return dated;
    }

    private async Task<long> CopyItemsAsync(CancellationToken cancellationToken)
    {
        long count = 0;
        var batch = new List<ItemMetadata>(1000);
        await foreach (var item in source.ScanItemsAsync(cancellationToken))
        {
            batch.Add(item);
            if (batch.Count < 1000) continue;
            await target.PutItemsAsync(batch, cancellationToken);
            count += batch.Count;
            batch.Clear();
        }
        if (batch.Count > 0) await target.PutItemsAsync(batch, cancellationToken);
        return count + batch.Count;
    }

    /// <summary>Each saved query replaces the target's of the same name, as settings do; one the target holds already as it is is left alone.</summary>
    private async Task CopySavedQueriesAsync(CancellationToken cancellationToken)
    {
        foreach (var query in await source.ListSavedQueriesAsync(cancellationToken))
        {
            while (await target.GetSavedQueryAsync(query.Name, cancellationToken) is var stored && stored?.Definition != query.Definition)
                await target.PutSavedQueryAsync(query.Name, query.Definition, stored?.Version ?? 0, cancellationToken);
        }
    }

    /// <summary>
    /// Partitions where the target holds fewer events than the source did when the copy began, one
    /// readable line each. It may hold more: a source that kept running had more to give.
    /// </summary>
    private async Task<IReadOnlyList<string>> CompareAsync(IReadOnlyList<RawPartition> copied, CancellationToken cancellationToken)
    {
        var inTarget = (await target.ListPartitionsAsync(cancellationToken)).ToDictionary(p => (p.EventType, p.Start), p => p.Events);
        return copied
            .Where(p => schema.EventTypes.ContainsKey(p.EventType) && inTarget.GetValueOrDefault((p.EventType, p.Start)) < p.Events)
            .Select(p => $"{p.EventType} {p.Start:yyyy-MM-dd HH:mm}: {p.Events} events in the source, {inTarget.GetValueOrDefault((p.EventType, p.Start))} in the target")
            .ToList();
    }
}
