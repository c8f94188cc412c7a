using System.Globalization;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Store;

namespace Tally.Core.Retention;

/// <param name="SaltsUnusedSince">Salts not used since this day were deleted.</param>
public sealed record RetentionResult(IReadOnlyList<string> DroppedPartitions, DateOnly SaltsUnusedSince);

/// <summary>
/// Drops whole raw partitions older than each type's retention, and salts unused for longer than the
/// privacy setting (after which nobody can recompute a visitor's id for those days). Metrics already
/// aggregated from dropped events are kept; the aggregator is told never to recompute those days.
/// </summary>
public sealed class RetentionService(TallySchema schema, IPartitionStore partitions, ISaltStore salts, ISettingStore settings, TimeProvider clock)
{
    public static string RawDataFromSetting(EventType type) => $"retention.{type.Name}.raw_data_from";

    public async Task<RetentionResult> RunAsync(CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var dropped = new List<string>();
        foreach (var type in schema.EventTypes.Values)
        {
            if (type.RetentionDays is not { } days) continue;
            var cutoff = now.Date.AddDays(-days);
            var names = await partitions.DropPartitionsBeforeAsync(type, cutoff, cancellationToken);
            if (names.Count == 0) continue;
            dropped.AddRange(names);
            // Every partition ending by the cutoff is gone, so raw data is whole from the cutoff's partition on.
            var rawDataFrom = DateOnly.FromDateTime(type.Partition.PeriodStart(cutoff));
            await settings.SetSettingAsync(RawDataFromSetting(type), rawDataFrom.ToString("O", CultureInfo.InvariantCulture), cancellationToken);
        }
        var saltsUnusedSince = DateOnly.FromDateTime(now).AddDays(-schema.Options.Privacy.SaltRetentionDays);
        await salts.PurgeSaltsUnusedSinceAsync(saltsUnusedSince, cancellationToken);
        return new RetentionResult(dropped, saltsUnusedSince);
    }

    /// <summary>The first day of a type whose raw events are all still stored, or null if none were ever dropped.</summary>
    public static async Task<DateOnly?> RawDataFromAsync(ISettingStore settings, EventType type, CancellationToken cancellationToken) =>
        await settings.GetSettingAsync(RawDataFromSetting(type), cancellationToken) is { } value
            ? DateOnly.ParseExact(value, "O", CultureInfo.InvariantCulture)
            : null;
}
