using System.Globalization;
using System.Runtime.CompilerServices;
using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Store;
using static Tally.Storage.ClickHouse.ClickHouseNames;
using static Tally.Storage.ClickHouse.ClickHouseSql;

namespace Tally.Storage.ClickHouse;

/// <summary>
/// Computes metrics in ClickHouse SQL (18.16: no window functions, no CTEs), one statement per aggregation and
/// batch of days, and writes the computed rows with the store's period replacement (rows and marker in one insert).
/// <para>In a cluster the raw events are sharded by session, so a visitor's sessions, and with them the double-clicks
/// and unique visitors of the COUNTER and aggregation rules, may lie on several shards. Each shard therefore reads,
/// filters and deduplicates its own events (the subqueries over the Distributed tables run there, in parallel),
/// and the node that gathers them completes what needs all of a visitor's events.</para>
/// </summary>
internal sealed class ClickHouseMetricComputer(ClickHouseEventStore store, ClickHouseHttpClient db) : IMetricComputer
{
    private const string NullText = "CAST(NULL AS Nullable(String))";
    /// <summary>The temporary table of referrer keys that <see cref="ComputeDaysAsync"/> sends with its statement.</summary>
    private const string ReferrerKeys = "_referrer_keys";

    public async Task<long> ComputeDaysAsync(
        EventType type, IReadOnlyList<AggregationDefinition> aggregations, IReadOnlyList<DateOnly> days, Referrers referrers, CancellationToken cancellationToken)
    {
        if (days.Count == 0) return 0;
        var exists = await store.EventTableExistsAsync(type.Name, cancellationToken);
        foreach (var aggregation in aggregations)
        {
            var rows = exists ? await ComputeAggregationAsync(aggregation, days, referrers, cancellationToken) : [];
            foreach (var day in days)
                await store.ReplaceMetricsAsync(aggregation, MetricPeriod.Day, day, rows.GetValueOrDefault(day, []), cancellationToken);
        }
        if (!exists) return 0;
        return (await db.QueryListAsync($"SELECT uniqExact(id) FROM {Events(type.Name)} WHERE {InDays(days)}", row => row.GetInt64(0), cancellationToken)).Single();
    }

    /// <summary>
    /// One aggregation's rows of the days, by day. Events are first counted at the finest grouping, keeping their visitors
    /// and sessions as exact-count states; each of those rows then stands for itself at every grouping (ARRAY JOIN of the
    /// grouping numbers, a key kept where its bit is set), and the states merge. WITH CUBE would mark dropped keys with
    /// default values, indistinguishable from stored ones, as 18.16 has no GROUPING().
    /// </summary>
    private async Task<Dictionary<DateOnly, List<MetricRow>>> ComputeAggregationAsync(
        AggregationDefinition aggregation, IReadOnlyList<DateOnly> days, Referrers referrers, CancellationToken cancellationToken)
    {
        var type = aggregation.EventType;
        var referrerIndex = aggregation.GroupBy.ToList().FindIndex(f => f.Name == WellKnownFields.Referrer);
        var columns = new List<string> { $"{Day} AS day", "visitor", "session" };
        var keys = new List<string>();
        for (var i = 0; i < aggregation.GroupBy.Count; i++)
        {
            if (i == referrerIndex)
            {
                columns.AddRange(ReferrerAndAuthority(type, aggregation.GroupBy[i]));
                keys.Add($"if(has_key = 1, referrer_key, {NullText}) AS k{i}");
            }
            else
            {
                columns.Add($"{Formatted(aggregation.GroupBy[i])} AS k{i}");
                keys.Add($"k{i}");
            }
        }
        columns.AddRange(aggregation.SumFields.Select((f, i) => $"{Field(f.Name)} AS s{i}"));
        var robots = aggregation.IncludeRobots ? "" : " AND robot = 0";
        var keyNames = Enumerable.Range(0, keys.Count).Select(i => $"k{i}").ToList();
        var sums = aggregation.SumFields.Select((_, i) => i).ToList();
        var join = referrerIndex >= 0 ? $" ANY LEFT JOIN {ReferrerKeys} USING (referrer_text, page_authority)" : "";
        var finest = $"SELECT day, {string.Join("", keys.Select(k => k + ", "))}count() AS c, uniqExactState(visitor) AS v, uniqExactState(session) AS s" +
            string.Concat(sums.Select(i => $", sum(ifNull(toFloat64(s{i}), 0)) AS sum{i}, count(s{i}) AS n{i}")) +
            $" FROM {Deduplicated(type, columns, robots, days)}{join} GROUP BY day{string.Concat(keyNames.Select(k => ", " + k))}";
        var grouped = keyNames.Select((k, i) => $"if(bitAnd(grouping, {1 << i}) = 0, {NullText}, {k}) AS g{i}").ToList();
        var sql = $"SELECT day, grouping{string.Concat(grouped.Select(g => ", " + g))}, sum(c), uniqExactMerge(v), uniqExactMerge(s)" +
            string.Concat(sums.Select(i => $", sum(sum{i}), sum(n{i})")) +
            $" FROM ({finest}) ARRAY JOIN range({aggregation.Groupings}) AS grouping" +
            $" GROUP BY day, grouping{string.Concat(keyNames.Select((_, i) => $", g{i}"))}";
        var lookup = referrerIndex >= 0 ? await ReferrerKeyTableAsync(type, aggregation.GroupBy[referrerIndex], days, referrers, cancellationToken) : null;
        var rows = await db.QueryListAsync(sql, lookup, row =>
        {
            var keyValues = new string?[keyNames.Count];
            for (var k = 0; k < keyValues.Length; k++) keyValues[k] = row.GetNullableString(2 + k);
            var c = 2 + keyValues.Length;
            var metric = new MetricRow(row.GetDate(0), keyValues, sums.Count)
            {
                Grouping = (int)row.GetInt64(1),
                Count = row.GetInt64(c++),
                UniqueVisitors = row.GetInt64(c++),
                UniqueSessions = row.GetInt64(c++),
            };
            for (var s = 0; s < sums.Count; s++)
            {
                metric.Sums[s] = row.GetDouble(c++);
                metric.SumCounts[s] = row.GetInt64(c++);
            }
            return metric;
        }, cancellationToken);
        return rows.GroupBy(r => r.Period).ToDictionary(g => g.Key, g => g.ToList());
    }

    /// <summary>The referrer as text ('' for none) and the page authority of the event's url ('' for none), the pair a referrer key depends on.</summary>
    private static string[] ReferrerAndAuthority(EventType type, FieldDefinition referrer) =>
        [$"ifNull({Formatted(referrer)}, '') AS referrer_text", $"extract(ifNull({Text(type, WellKnownFields.Url)}, ''), {Quote(Referrers.PageAuthorityPattern)}) AS page_authority"];

    /// <summary>
    /// The key of every distinct (referrer, page authority) pair of the days, found by the shards and keyed by
    /// <see cref="Referrers.Key"/>, so that one definition of referrer keys serves every engine; the table is small,
    /// as a site has far fewer referring pages than events.
    /// </summary>
    private async Task<ClickHouseExternalTable> ReferrerKeyTableAsync(
        EventType type, FieldDefinition referrer, IReadOnlyList<DateOnly> days, Referrers referrers, CancellationToken cancellationToken)
    {
        var pairs = await db.QueryListAsync(
            $"SELECT DISTINCT {string.Join(", ", ReferrerAndAuthority(type, referrer))} FROM {Events(type.Name)} WHERE {InDays(days)}",
            row => (Referrer: row.GetString(0), Authority: row.GetString(1)), cancellationToken);
        return new ClickHouseExternalTable(ReferrerKeys, "referrer_text String, page_authority String, has_key UInt8, referrer_key String", w =>
        {
            foreach (var (text, authority) in pairs)
            {
                var key = referrers.Key(text, authority.Length == 0 ? null : authority);
                w.WriteString(text);
                w.WriteString(authority);
                w.WriteBoolean(key is not null);
                w.WriteString(key ?? "");
            }
        });
    }

    // ---- COUNTER ----------------------------------------------------------------------------------

    public async Task ComputeCounterDaysAsync(IReadOnlyList<EventType> types, IReadOnlyList<DateOnly> days, CancellationToken cancellationToken)
    {
        if (days.Count == 0) return;
        var stored = new List<EventType>();
        foreach (var type in types.Where(t => t.Counter != CounterRole.None))
        {
            if (await store.EventTableExistsAsync(type.Name, cancellationToken)) stored.Add(type);
        }
        var parts = new List<string>();
        var clickTypes = stored.Where(t => t.Counter != CounterRole.Search).ToList();
        if (clickTypes.Count > 0) parts.Add(CounterClicksSql(clickTypes, days));
        parts.AddRange(stored.Where(t => t.Counter == CounterRole.Search).Select(t => CounterSearchesSql(t, days)));
        var rows = new Dictionary<DateOnly, List<CounterRow>>();
        if (parts.Count > 0)
        {
            var metrics = Enumerable.Range(0, CounterNames.Metrics.Length).Select(m => $"sum(m{m})").ToList();
            var sql = $"SELECT day, {string.Join(", ", DimensionColumns)}, {string.Join(", ", metrics)} FROM ({string.Join(" UNION ALL ", parts)}) " +
                $"GROUP BY day, {string.Join(", ", DimensionColumns)} HAVING {string.Join(" + ", metrics)} > 0";
            foreach (var row in await db.QueryListAsync(sql, ReadCounterRow, cancellationToken))
                (rows.TryGetValue(row.Period, out var list) ? list : rows[row.Period] = []).Add(row);
        }
        foreach (var day in days)
            await store.ReplaceCounterMetricsAsync(MetricPeriod.Day, day, rows.GetValueOrDefault(day, []), cancellationToken);
    }

    private static readonly string[] DimensionColumns = [.. CounterNames.Dimensions.Select(CounterNames.Column)];

    /// <summary>A row of (period, the dimensions, the metrics), its period its first column.</summary>
    private static CounterRow ReadCounterRow(ClickHouseRow row)
    {
        var keys = new string?[DimensionColumns.Length];
        for (var d = 0; d < keys.Length; d++) keys[d] = row.GetNullableString(1 + d);
        var counter = new CounterRow(row.GetDate(0), keys);
        for (var m = 0; m < counter.Values.Length; m++) counter.Values[m] = row.GetInt64(1 + keys.Length + m);
        return counter;
    }

    /// <summary>
    /// Metric columns m0… in <see cref="CounterNames.Metrics"/> order, each one given or 0; materialized, as 18.16 cannot
    /// UNION ALL a constant column with a computed one.
    /// </summary>
    private static string MetricColumns(IReadOnlyDictionary<CounterMetric, string> values) =>
        string.Join(", ", CounterNames.Metrics.Select((m, i) => $"toUInt64(materialize({values.GetValueOrDefault(m, "0")})) AS m{i}"));

    private static string Role(params CounterRole[] roles) => $"role IN ({string.Join(", ", roles.Select(r => Number((int)r)))})";

    private static readonly string Investigated = Role(CounterRole.Investigation, CounterRole.Request), Requested = Role(CounterRole.Request);

    /// <summary>
    /// The metrics of the clicks of every click type, as <see cref="CounterDayCalculator"/> counts them:
    /// <list type="number">
    /// <item>each shard reads its events of the days, robots and clicks without an item left out, one row per id;</item>
    /// <item>a user's clicks on one target of one type, sorted by time and then by the row's dimensions (null first,
    /// then ordinal), keep those whose next click is 30 s or more later, or that are the last;</item>
    /// <item>per session and row: totals, whether it was investigated or requested, and its earliest such click;</item>
    /// <item>per session and title (the dimensions with the title, else the item, instead of the item), the row of the
    /// earliest investigation (then the least item id) takes the title's unique investigation, likewise for requests.</item>
    /// </list>
    /// </summary>
    private static string CounterClicksSql(IReadOnlyList<EventType> types, IReadOnlyList<DateOnly> days)
    {
        // Sort keys of the clicks' tuples: time, then each dimension as (present, value) so null sorts first.
        var sortedDimensions = string.Join(", ", DimensionColumns.Select(d => $"isNotNull({d}), ifNull({d}, '')"));
        var clicks = string.Join(" UNION ALL ", types.Select((type, index) =>
        {
            var item = Text(type, WellKnownFields.ItemId);
            var target = $"ifNull({Text(type, WellKnownFields.Url)}, concat(assumeNotNull({item}), '\\x1F', ifNull({Text(type, WellKnownFields.Format)}, '')))";
            List<string> columns = [$"{Number(index)} AS type", $"{Day} AS day", "visitor", "session", "ts", $"{Number((int)type.Counter)} AS role",
                .. Dimensions(type, item, Text(type, WellKnownFields.TitleId), Text(type, WellKnownFields.AccessType)), $"{target} AS target"];
            return $"SELECT type, day, visitor, target, tuple(ts, {sortedDimensions}, session, role) AS click " +
                $"FROM {Deduplicated(type, columns, $" AND robot = 0 AND {item} IS NOT NULL", days)}";
        }));
        var sessionIndex = 2 + 2 * DimensionColumns.Length;
        var survivors = "SELECT day, " +
            string.Join(", ", DimensionColumns.Select((d, i) => $"if(tupleElement(c, {2 + 2 * i}) = 1, tupleElement(c, {3 + 2 * i}), {NullText}) AS {d}")) +
            $", tupleElement(c, 1) AS ts, tupleElement(c, {sessionIndex}) AS session, tupleElement(c, {sessionIndex + 1}) AS role FROM (" +
            $"SELECT day, arraySort(groupArray(click)) AS clicks FROM ({clicks}) GROUP BY type, day, visitor, target) " +
            "ARRAY JOIN arrayFilter((click, next) -> next - tupleElement(click, 1) >= " +
            $"{Number((long)CounterDayCalculator.DoubleClickWindow.TotalMilliseconds)}, clicks, " +
            "arrayPushBack(arrayPopFront(arrayMap(click -> tupleElement(click, 1), clicks)), toInt64(9223372036854775807))) AS c";
        var dimensions = string.Join(", ", DimensionColumns);
        var perSessionRow = $"SELECT day, session, {dimensions}, countIf({Investigated}) AS investigations, countIf({Requested}) AS requests, " +
            $"countIf({Role(CounterRole.NoLicense)}) AS no_license, countIf({Role(CounterRole.LimitExceeded)}) AS limit_exceeded, " +
            $"{FirstClick(Investigated)} AS first_investigation, {FirstClick(Requested)} AS first_request " +
            $"FROM ({survivors}) GROUP BY day, session, {dimensions}";
        var title = string.Join(", ", DimensionColumns.Select(d => d switch
        {
            "item_id" => "",
            "title_id" => "ifNull(title_id, item_id)",
            _ => d,
        }).Where(d => d.Length > 0));
        var perSessionTitle = $"SELECT day, groupArray(tuple({dimensions}, investigations, requests, no_license, limit_exceeded)) AS rows, " +
            "indexOf(groupArray(first_investigation), min(first_investigation)) AS investigation_winner, " +
            "indexOf(groupArray(first_request), min(first_request)) AS request_winner " +
            $"FROM ({perSessionRow}) GROUP BY day, session, {title}";
        var metricCount = DimensionColumns.Length;
        string Of(int i) => $"tupleElement(r, {i + 1})";
        return $"SELECT day, {string.Join(", ", DimensionColumns.Select((d, i) => $"{Of(i)} AS {d}"))}, " + MetricColumns(new Dictionary<CounterMetric, string>
        {
            [CounterMetric.TotalItemInvestigations] = Of(metricCount),
            [CounterMetric.TotalItemRequests] = Of(metricCount + 1),
            [CounterMetric.UniqueItemInvestigations] = $"{Of(metricCount)} > 0",
            [CounterMetric.UniqueItemRequests] = $"{Of(metricCount + 1)} > 0",
            [CounterMetric.UniqueTitleInvestigations] = $"{Of(metricCount)} > 0 AND i = investigation_winner",
            [CounterMetric.UniqueTitleRequests] = $"{Of(metricCount + 1)} > 0 AND i = request_winner",
            [CounterMetric.NoLicense] = Of(metricCount + 2),
            [CounterMetric.LimitExceeded] = Of(metricCount + 3),
        }) + $" FROM ({perSessionTitle}) ARRAY JOIN rows AS r, arrayEnumerate(rows) AS i";
    }

    /// <summary>
    /// A row's earliest click of the roles as text that sorts by time and then by item id (the time at a fixed width),
    /// or '~', which sorts after every such text, when it has none: the title's first click is the least of its rows'.
    /// </summary>
    private static string FirstClick(string roles) =>
        $"if(countIf({roles}) = 0, '~', concat(toString(minIf(ts, {roles}) + 1000000000000000), any(item_id)))";

    /// <summary>The searches of a search type by kind: automated, federated, else regular (which the platform counts too).</summary>
    private static string CounterSearchesSql(EventType type, IReadOnlyList<DateOnly> days)
    {
        var kind = Text(type, WellKnownFields.SearchType);
        List<string> columns = [$"{Day} AS day", .. Dimensions(type, NullText, NullText, NullText), $"ifNull({kind}, '') AS search_type"];
        return $"SELECT day, {string.Join(", ", DimensionColumns)}, " + MetricColumns(new Dictionary<CounterMetric, string>
        {
            [CounterMetric.SearchesRegular] = "search_type NOT IN ('automated', 'federated')",
            [CounterMetric.SearchesAutomated] = "search_type = 'automated'",
            [CounterMetric.SearchesFederated] = "search_type = 'federated'",
            [CounterMetric.SearchesPlatform] = "search_type NOT IN ('automated', 'federated')",
        }) + $" FROM {Deduplicated(type, columns, " AND robot = 0", days)}";
    }

    /// <summary>
    /// The COUNTER dimensions of a type's events in <see cref="CounterNames.Dimensions"/> order, with the defaults of a missing
    /// access method and type; all computed Nullable(String) columns, so that the parts of a UNION ALL agree.
    /// </summary>
    private static IEnumerable<string> Dimensions(EventType type, string item, string title, string accessType) => CounterNames.Dimensions.Select(d => "materialize(toNullable(" + d switch
    {
        CounterDimension.ItemId => item,
        CounterDimension.TitleId => title,
        CounterDimension.DatabaseId => Text(type, WellKnownFields.DatabaseId),
        CounterDimension.AccessType => accessType == NullText ? NullText : $"ifNull({accessType}, 'Controlled')",
        CounterDimension.AccessMethod => $"ifNull({Text(type, WellKnownFields.AccessMethod)}, 'Regular')",
        CounterDimension.Institution => Text(type, WellKnownFields.Institution),
        CounterDimension.Country => Text(type, WellKnownFields.Country),
        _ => Text(type, WellKnownFields.Region),
    } + $")) AS {CounterNames.Column(d)}");

    // ---- metadata and months ----------------------------------------------------------------------

    public async IAsyncEnumerable<TallyEvent> ReadStatedMetadataAsync(
        EventType type, IReadOnlyList<DateOnly> days, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var fields = ItemMetadataReader.EventFields.Select(type.Field).OfType<FieldDefinition>().ToList();
        if (days.Count == 0 || type.Field(WellKnownFields.ItemId) is not { } itemId || !await store.EventTableExistsAsync(type.Name, cancellationToken)) yield break;
        var columns = fields.Select(f => Field(f.Name)).ToList();
        var others = columns.Where(c => c != Field(itemId.Name)).Select(c => $"isNotNull({c})").DefaultIfEmpty("0");
        // Columns as the store reads an event: the envelope (the latest statement's id and time), then the fields.
        var sql = $"SELECT argMax(id, ts), max(ts), 0, 0, 0, {string.Join(", ", columns)} " +
            $"FROM {Deduplicated(type, ["ts", .. columns], $" AND {Field(itemId.Name)} IS NOT NULL AND ({string.Join(" OR ", others)})", days)} " +
            $"GROUP BY {string.Join(", ", columns)}";
        await foreach (var row in db.QueryAsync(sql, cancellationToken))
            yield return ClickHouseEventStore.ReadEvent(row, type, fields, withExtra: false);
    }

    public async Task RollUpMonthsAsync(AggregationDefinition aggregation, IReadOnlyList<DateOnly> months, CancellationToken cancellationToken)
    {
        var keys = aggregation.GroupBy.Select(f => Key(f.Name)).ToList();
        var sums = aggregation.SumFields.SelectMany(f => new[] { $"sum(sum_{f.Name})", $"sum(n_{f.Name})" });
        var rows = await SumDaysAsync(Metrics(aggregation, MetricPeriod.Day), ["grouping_set", .. keys],
            ["sum(count)", "sum(unique_visitors)", "sum(unique_sessions)", .. sums], months, row =>
            {
                var keyValues = new string?[keys.Count];
                for (var k = 0; k < keyValues.Length; k++) keyValues[k] = row.GetNullableString(2 + k);
                var c = 2 + keyValues.Length;
                var metric = new MetricRow(row.GetDate(0), keyValues, aggregation.SumFields.Count)
                {
                    Grouping = (int)row.GetInt64(1),
                    Count = row.GetInt64(c++),
                    UniqueVisitors = row.GetInt64(c++),
                    UniqueSessions = row.GetInt64(c++),
                };
                for (var s = 0; s < metric.Sums.Length; s++)
                {
                    metric.Sums[s] = row.GetDouble(c++);
                    metric.SumCounts[s] = row.GetInt64(c++);
                }
                return metric;
            }, cancellationToken);
        foreach (var month in months)
            await store.ReplaceMetricsAsync(aggregation, MetricPeriod.Month, month, rows.GetValueOrDefault(month, []), cancellationToken);
    }

    public async Task RollUpCounterMonthsAsync(IReadOnlyList<DateOnly> months, CancellationToken cancellationToken)
    {
        var rows = await SumDaysAsync(Counter(MetricPeriod.Day), DimensionColumns,
            [.. CounterNames.Metrics.Select(m => $"sum({CounterNames.Column(m)})")], months, ReadCounterRow, cancellationToken);
        foreach (var month in months)
            await store.ReplaceCounterMetricsAsync(MetricPeriod.Month, month, rows.GetValueOrDefault(month, []), cancellationToken);
    }

    /// <summary>The current day rows of the months summed by month (the first column) and <paramref name="keys"/>, by month.</summary>
    private async Task<Dictionary<DateOnly, List<T>>> SumDaysAsync<T>(string table, IReadOnlyList<string> keys, IReadOnlyList<string> sums, IReadOnlyList<DateOnly> months,
        Func<ClickHouseRow, T> read, CancellationToken cancellationToken)
    {
        var result = new Dictionary<DateOnly, List<T>>();
        if (months.Count == 0) return result;
        var sql = $"SELECT toStartOfMonth(period) AS month, {string.Join(", ", keys.Concat(sums))} " +
            $"FROM {table} WHERE {ClickHouseEventStore.CurrentRows(table, months.Min(), months.Max().AddMonths(1).AddDays(-1))} AND month IN ({string.Join(", ", months.Select(Quote))}) " +
            $"GROUP BY month, {string.Join(", ", keys)}";
        var rows = await db.QueryListAsync(sql, row => (Month: row.GetDate(0), Row: read(row)), cancellationToken);
        foreach (var (month, row) in rows) (result.TryGetValue(month, out var list) ? list : result[month] = []).Add(row);
        return result;
    }

    // ---- reading raw events -----------------------------------------------------------------------

    /// <summary>
    /// A subquery of <paramref name="columns"/> of the type's events on the days that pass <paramref name="and"/>, one row
    /// per id (a duplicate is stored on its original's shard, as both have its session); in a cluster each shard runs it.
    /// </summary>
    private static string Deduplicated(EventType type, IReadOnlyList<string> columns, string and, IReadOnlyList<DateOnly> days) =>
        $"(SELECT id, {string.Join(", ", columns)} FROM {Events(type.Name)} WHERE {InDays(days)}{and} LIMIT 1 BY id)";

    /// <summary>The condition for events on the days: a range of times, which picks partitions, then the days themselves.</summary>
    private static string InDays(IReadOnlyList<DateOnly> days) =>
        $"ts >= {Number(Ms(days.Min()))} AND ts < {Number(Ms(days.Max().AddDays(1)))} AND {Day} IN ({string.Join(", ", days.Select(Quote))})";

    private static long Ms(DateOnly day) => (day.DayNumber - DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber) * 86_400_000L;

    /// <summary>A field's value as <see cref="DayCalculator"/> formats a group-by key: text as it is, numbers in shortest round-trip form, booleans true/false.</summary>
    private static string Formatted(FieldDefinition field)
    {
        var column = Field(field.Name);
        return field.Type switch
        {
            FieldType.Boolean => $"if(isNull({column}), {NullText}, if(assumeNotNull({column}) = 0, 'false', 'true'))",
            FieldType.Integer or FieldType.Number => $"toString({column})",
            _ => column,
        };
    }

    /// <summary>A field of the type as <see cref="TallyEvent.Text"/> reads it: its value when it is a text field, else null.</summary>
    private static string Text(EventType type, string field) =>
        type.Field(field) is { Type: FieldType.String } definition ? Field(definition.Name) : NullText;
}
