using System.Runtime.CompilerServices;
using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Store;
using static Tally.Storage.ClickHouse.ClickHouseNames;
using static Tally.Storage.ClickHouse.ClickHouseSql;

namespace Tally.Storage.ClickHouse;

/// <summary>
/// Computes metrics in ClickHouse SQL (18.16: no window functions, no CTEs): one INSERT … SELECT per aggregation and
/// batch of days, which replaces the days' rows as the store does (see <see cref="ReplacePeriodsAsync"/>).
/// <para>Each statement's innermost GROUP BY reads a Distributed table, so in a cluster every shard reads, filters and
/// groups its own events in parallel, and the node that took the statement merges their partial aggregates (exact
/// unique-count states, click arrays) and does the rest. The raw events are sharded by session, so a visitor's
/// sessions, and with them the double-clicks and unique visitors of the rules, may lie on several shards: only the
/// merged aggregates are complete.</para>
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
        var source = await SourceAsync(type, days, cancellationToken);
        // Aggregations are independent statements; sent together, the server works on them at once.
        await Task.WhenAll(aggregations.Select(async aggregation =>
        {
            var (rows, lookup) = source is null ? (null, null) : await AggregationSqlAsync(aggregation, source, referrers, cancellationToken);
            await ReplacePeriodsAsync(Metrics(aggregation, MetricPeriod.Day), MetricColumns(aggregation), rows, days, lookup, cancellationToken);
        }));
        return source?.Events ?? 0;
    }

    /// <summary>
    /// One aggregation's rows of the days (with the referrer lookup the statement reads). Events are first counted at the finest grouping, keeping their visitors
    /// and sessions as exact-count states; each of those rows then stands for itself at every grouping (ARRAY JOIN of the
    /// grouping numbers, a key kept where its bit is set), and the states merge. WITH CUBE would mark dropped keys with
    /// default values, indistinguishable from stored ones, as 18.16 has no GROUPING().
    /// </summary>
    private async Task<(string? Sql, ClickHouseExternalTable? Lookup)> AggregationSqlAsync(
        AggregationDefinition aggregation, RawSource source, Referrers referrers, CancellationToken cancellationToken)
    {
        var type = aggregation.EventType;
        var referrerIndex = aggregation.GroupBy.ToList().FindIndex(f => f.Name == WellKnownFields.Referrer);
        // The finest grouping's columns; a referrer's key comes from the lookup, joined by the pair it depends on.
        var keys = new List<string>();
        for (var i = 0; i < aggregation.GroupBy.Count; i++)
        {
            var field = aggregation.GroupBy[i];
            var key = i == referrerIndex ? $"if(has_key = 1, referrer_key, {NullText})"
                : field.Type == FieldType.Number ? await NumberTextAsync(field, source, cancellationToken)
                : Formatted(field);
            keys.Add($"{key} AS k{i}");
        }
        var keyNames = keys.Select((_, i) => $"k{i}").Concat(referrerIndex >= 0 ? ["referrer_text", "page_authority"] : []).ToList();
        if (referrerIndex >= 0) keys.AddRange(ReferrerAndAuthority(type, aggregation.GroupBy[referrerIndex]));
        var sums = aggregation.SumFields.Select(f => Field(f.Name)).ToList();
        // GLOBAL: in a cluster the lookup travels to the shards with the statement.
        var join = referrerIndex >= 0 ? $" GLOBAL ANY LEFT JOIN {ReferrerKeys} USING (referrer_text, page_authority)" : "";
        var robots = aggregation.IncludeRobots ? "" : " AND robot = 0";
        var finest = $"SELECT {Day} AS day, {string.Join("", keys.Select(k => k + ", "))}count() AS events, uniqExactState(visitor) AS visitors, uniqExactState(session) AS sessions" +
            string.Concat(sums.Select((f, i) => $", sum(ifNull(toFloat64({f}), 0)) AS sum{i}, count({f}) AS n{i}")) +
            $" FROM {source.From}{join} WHERE {source.Where}{robots} GROUP BY day{string.Concat(keyNames.Select(k => ", " + k))}";
        // Columns as MetricColumns lists them: the grouping, the keys it keeps, then the metrics.
        List<string> values = ["grouping", .. aggregation.GroupBy.Select((_, i) => $"if(bitAnd(grouping, {1 << i}) = 0, {NullText}, k{i})"),
            "sum(events)", "uniqExactMerge(visitors)", "uniqExactMerge(sessions)", .. sums.SelectMany((_, i) => new[] { $"sum(sum{i})", $"sum(n{i})" })];
        var sql = $"SELECT day AS p, {Columns(values)} FROM ({finest}) ARRAY JOIN [{string.Join(", ", aggregation.Groupings)}] AS grouping" +
            $" GROUP BY day, grouping{string.Concat(aggregation.GroupBy.Select((_, i) => $", c{i + 1}"))}";
        var lookup = referrerIndex >= 0 ? await ReferrerKeyTableAsync(type, aggregation.GroupBy[referrerIndex], source.Days, referrers, cancellationToken) : null;
        return (sql, lookup);
    }

    /// <summary>
    /// A number field's values of the days as <see cref="DayCalculator.Format"/> writes them. ClickHouse's own text is not
    /// .NET's shortest round-trip form (1E+17 comes out as 100000000000000000, 1.2345678901234568E+17 with digits lost),
    /// so .NET formats the days' distinct values and the statement maps each value, by its bytes, to that text.
    /// </summary>
    private async Task<string> NumberTextAsync(FieldDefinition field, RawSource source, CancellationToken cancellationToken)
    {
        // 18.16 cannot reinterpret a Float64 as an integer, but can as its little-endian bytes (trailing zero bytes dropped).
        var bytes = $"hex(reinterpretAsString(assumeNotNull({Field(field.Name)})))";
        var values = await db.QueryListAsync(
            $"SELECT DISTINCT {bytes} FROM {source.From} WHERE {source.Where} AND isNotNull({Field(field.Name)})", row => row.GetString(0), cancellationToken);
        if (values.Count == 0) return NullText;
        var texts = values.Select(hex => Quote(DayCalculator.Format(BitConverter.ToDouble(Convert.FromHexString(hex.PadRight(16, '0'))))!));
        return $"if(isNull({Field(field.Name)}), {NullText}, transform({bytes}, [{string.Join(", ", values.Select(Quote))}], [{string.Join(", ", texts)}], ''))";
    }

    /// <summary>An aggregation's metric columns after the period, with their types and the values of a marker row.</summary>
    private static List<TableColumn> MetricColumns(AggregationDefinition aggregation) =>
    [
        new("grouping_set", "UInt8", "0"),
        .. aggregation.GroupBy.Select(f => new TableColumn(Key(f.Name), "Nullable(String)", "NULL")),
        .. new[] { "count", "unique_visitors", "unique_sessions" }.Select(c => new TableColumn(c, "Int64", "0")),
        .. aggregation.SumFields.SelectMany(f => new[] { new TableColumn($"sum_{f.Name}", "Float64", "0"), new TableColumn($"n_{f.Name}", "Int64", "0") }),
    ];

    /// <summary>The COUNTER tables' columns after the period.</summary>
    private static readonly TableColumn[] CounterColumns =
    [
        new("month", "Date", "toStartOfMonth(period)"),
        .. CounterNames.Dimensions.Select(d => new TableColumn(CounterNames.Column(d), "Nullable(String)", "NULL")),
        .. CounterNames.Metrics.Select(m => new TableColumn(CounterNames.Column(m), "Int64", "0")),
    ];

    /// <summary>A metric table's column, its type, and its value in a marker row (an expression that may read the row's period).</summary>
    private sealed record TableColumn(string Name, string Type, string Marker);

    /// <summary>Expressions named c0, c1… in order, as <see cref="ReplacePeriodsAsync"/> reads them.</summary>
    private static string Columns(IEnumerable<string> values) => string.Join(", ", values.Select((v, i) => $"{v} AS c{i}"));

    /// <summary>
    /// Replaces the periods' rows of a metric table with those <paramref name="rows"/> selects (its columns p, the period,
    /// and c0… for <paramref name="columns"/>; null for none), in one INSERT … SELECT under a new version, each period's marker row sorted
    /// after its rows. As in the store's own replacement, a period's rows lie in one partition of one shard (metric
    /// tables are sharded by period), so they and their marker become one part: readers see a period's old rows or its
    /// new ones, never neither; rows inserted before a failure stay invisible, as their marker never came.
    /// </summary>
    private Task ReplacePeriodsAsync(string table, IReadOnlyList<TableColumn> columns, string? rows, IReadOnlyList<DateOnly> periods,
        ClickHouseExternalTable? external, CancellationToken cancellationToken)
    {
        if (periods.Count == 0) return Task.CompletedTask;
        var values = string.Join(", ", columns.Select((c, i) => $"CAST(c{i} AS {c.Type}) AS v{i}"));
        // Materialized, as 18.16 cannot UNION ALL a constant column with a computed one.
        var markers = string.Join(", ", columns.Select((c, i) => $"materialize(CAST({c.Marker} AS {c.Type})) AS v{i}"));
        var sql = $"INSERT INTO {table} (period, version, marker, {string.Join(", ", columns.Select(c => c.Name))}) " +
            $"SELECT period, toUInt64({Number((long)store.NextVersion())}), marker, {string.Join(", ", columns.Select((_, i) => $"v{i}"))} FROM (" +
            (rows is null ? "" : $"SELECT p AS period, materialize(toUInt8(0)) AS marker, {values} FROM ({rows}) UNION ALL ") +
            $"SELECT arrayJoin([{string.Join(", ", periods.Select(p => $"toDate({Quote(p)})"))}]) AS period, materialize(toUInt8(1)) AS marker, {markers}) ORDER BY period, marker";
        return db.ExecuteAsync(sql, external, cancellationToken);
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
        var sources = (await Task.WhenAll(types.Where(t => t.Counter != CounterRole.None).Select(t => SourceAsync(t, days, cancellationToken)))).OfType<RawSource>().ToList();
        var parts = new List<string>();
        var clicks = sources.Where(s => s.Type.Counter != CounterRole.Search).ToList();
        if (clicks.Count > 0) parts.Add(CounterClicksSql(clicks));
        parts.AddRange(sources.Where(s => s.Type.Counter == CounterRole.Search).Select(CounterSearchesSql));
        string? rows = null;
        if (parts.Count > 0)
        {
            var metrics = Enumerable.Range(0, CounterNames.Metrics.Length).Select(m => $"sum(m{m})").ToList();
            rows = $"SELECT day AS p, {Columns(["toStartOfMonth(day)", .. DimensionColumns, .. metrics])} FROM ({string.Join(" UNION ALL ", parts)}) " +
                $"GROUP BY day, {string.Join(", ", DimensionColumns)} HAVING {string.Join(" + ", metrics)} > 0";
        }
        await ReplacePeriodsAsync(Counter(MetricPeriod.Day), CounterColumns, rows, days, null, cancellationToken);
    }

    private static readonly string[] DimensionColumns = [.. CounterNames.Dimensions.Select(CounterNames.Column)];

    /// <summary>
    /// Metric columns m0… in <see cref="CounterNames.Metrics"/> order, each one given or 0, passed through
    /// <paramref name="aggregate"/>; materialized, as 18.16 cannot UNION ALL a constant column with a computed one.
    /// </summary>
    private static string CounterMetricValues(IReadOnlyDictionary<CounterMetric, string> values, string aggregate = "") =>
        string.Join(", ", CounterNames.Metrics.Select((m, i) => $"{aggregate}(toUInt64(materialize({values.GetValueOrDefault(m, "0")}))) AS m{i}"));

    private static string Role(params CounterRole[] roles) => $"role IN ({string.Join(", ", roles.Select(r => Number((int)r)))})";

    private static readonly string Investigated = Role(CounterRole.Investigation, CounterRole.Request), Requested = Role(CounterRole.Request);

    /// <summary>
    /// The metrics of the clicks of every click type, as <see cref="CounterDayCalculator"/> counts them:
    /// <list type="number">
    /// <item>each shard gathers the clicks of each user on each target of each type (robots and clicks without an item
    /// left out) into an array, and the arrays of the shards merge;</item>
    /// <item>sorted by time and then by the row's dimensions (null first, then ordinal), the clicks whose next click is
    /// 30 s or more later, or that are the last, count;</item>
    /// <item>per session and row: totals, whether it was investigated or requested, and its earliest such click;</item>
    /// <item>per session and title (the dimensions with the title, else the item, instead of the item), the row of the
    /// earliest investigation (then the least item id) takes the title's unique investigation, likewise for requests.</item>
    /// </list>
    /// </summary>
    private static string CounterClicksSql(IReadOnlyList<RawSource> sources)
    {
        var clicks = string.Join(" UNION ALL ", sources.Select(source =>
        {
            var type = source.Type;
            var item = Text(type, WellKnownFields.ItemId);
            var target = $"ifNull({Text(type, WellKnownFields.Url)}, concat(assumeNotNull({item}), '\\x1F', ifNull({Text(type, WellKnownFields.Format)}, '')))";
            // A click sorts by time, then by each dimension as (present, value), so null comes first.
            var sortable = Dimensions(type, item, Text(type, WellKnownFields.TitleId), $"ifNull({Text(type, WellKnownFields.AccessType)}, 'Controlled')").Select(d => $"isNotNull({d}), ifNull({d}, '')");
            return $"SELECT {Day} AS day, groupArray(tuple(ts, {string.Join(", ", sortable)}, session, toUInt8({Number((int)type.Counter)}))) AS clicks " +
                $"FROM {source.From} WHERE {source.Where} AND robot = 0 AND {item} IS NOT NULL GROUP BY day, visitor, {target}";
        }));
        var sessionIndex = 2 + 2 * DimensionColumns.Length;
        var survivors = "SELECT day, " +
            string.Join(", ", DimensionColumns.Select((d, i) => $"if(tupleElement(c, {2 + 2 * i}) = 1, tupleElement(c, {3 + 2 * i}), {NullText}) AS {d}")) +
            $", tupleElement(c, 1) AS ts, tupleElement(c, {sessionIndex}) AS session, tupleElement(c, {sessionIndex + 1}) AS role FROM (" +
            $"SELECT day, arraySort(clicks) AS sorted FROM ({clicks})) " +
            "ARRAY JOIN arrayFilter((click, next) -> next - tupleElement(click, 1) >= " +
            $"{Number((long)CounterDayCalculator.DoubleClickWindow.TotalMilliseconds)}, sorted, " +
            "arrayPushBack(arrayPopFront(arrayMap(click -> tupleElement(click, 1), sorted)), toInt64(9223372036854775807))) AS c";
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
        return $"SELECT day, {string.Join(", ", DimensionColumns.Select((d, i) => $"{Of(i)} AS {d}"))}, " + CounterMetricValues(new Dictionary<CounterMetric, string>
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
    private static string CounterSearchesSql(RawSource source)
    {
        var kind = $"ifNull({Text(source.Type, WellKnownFields.SearchType)}, '')";
        var dimensions = Dimensions(source.Type, NullText, NullText, NullText).Select((d, i) => $"{d} AS {DimensionColumns[i]}");
        return $"SELECT {Day} AS day, {string.Join(", ", dimensions)}, " + CounterMetricValues(new Dictionary<CounterMetric, string>
        {
            [CounterMetric.SearchesRegular] = $"{kind} NOT IN ('automated', 'federated')",
            [CounterMetric.SearchesAutomated] = $"{kind} = 'automated'",
            [CounterMetric.SearchesFederated] = $"{kind} = 'federated'",
            [CounterMetric.SearchesPlatform] = $"{kind} NOT IN ('automated', 'federated')",
        }, "sum") + $" FROM {source.From} WHERE {source.Where} AND robot = 0 GROUP BY day, {string.Join(", ", DimensionColumns)}";
    }

    /// <summary>
    /// The COUNTER dimensions of a type's events in <see cref="CounterNames.Dimensions"/> order, with the default of a missing
    /// access method; all computed Nullable(String), so that the parts of a UNION ALL agree.
    /// </summary>
    private static IEnumerable<string> Dimensions(EventType type, string item, string title, string accessType) => CounterNames.Dimensions.Select(d => "materialize(toNullable(" + d switch
    {
        CounterDimension.ItemId => item,
        CounterDimension.TitleId => title,
        CounterDimension.DatabaseId => Text(type, WellKnownFields.DatabaseId),
        CounterDimension.AccessType => accessType,
        CounterDimension.AccessMethod => $"ifNull({Text(type, WellKnownFields.AccessMethod)}, 'Regular')",
        CounterDimension.Institution => Text(type, WellKnownFields.Institution),
        CounterDimension.Country => Text(type, WellKnownFields.Country),
        _ => Text(type, WellKnownFields.Region),
    } + "))");

    // ---- metadata and months ----------------------------------------------------------------------

    public async IAsyncEnumerable<TallyEvent> ReadStatedMetadataAsync(
        EventType type, IReadOnlyList<DateOnly> days, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var fields = ItemMetadataReader.EventFields.Select(type.Field).OfType<FieldDefinition>().ToList();
        if (days.Count == 0 || type.Field(WellKnownFields.ItemId) is not { } itemId || await SourceAsync(type, days, cancellationToken) is not { } source) yield break;
        var columns = fields.Select(f => Field(f.Name)).ToList();
        var others = columns.Where(c => c != Field(itemId.Name)).Select(c => $"isNotNull({c})").DefaultIfEmpty("0");
        // Columns as the store reads an event: the envelope (the latest statement's id and time), then the fields.
        var sql = $"SELECT argMax(id, ts), max(ts), 0, 0, 0, {string.Join(", ", columns)} " +
            $"FROM {source.From} WHERE {source.Where} AND {Field(itemId.Name)} IS NOT NULL AND ({string.Join(" OR ", others)}) " +
            $"GROUP BY {string.Join(", ", columns)}";
        await foreach (var row in db.QueryAsync(sql, cancellationToken))
            yield return ClickHouseEventStore.ReadEvent(row, type, fields, withExtra: false);
    }

    public Task RollUpMonthsAsync(AggregationDefinition aggregation, IReadOnlyList<DateOnly> months, CancellationToken cancellationToken)
    {
        var columns = MetricColumns(aggregation);
        var keys = columns.Take(1 + aggregation.GroupBy.Count).Select(c => c.Name).ToList();
        return RollUpAsync(Metrics(aggregation, MetricPeriod.Day), Metrics(aggregation, MetricPeriod.Month), columns, keys, months, cancellationToken);
    }

    public Task RollUpCounterMonthsAsync(IReadOnlyList<DateOnly> months, CancellationToken cancellationToken) =>
        RollUpAsync(Counter(MetricPeriod.Day), Counter(MetricPeriod.Month), CounterColumns, ["month", .. DimensionColumns], months, cancellationToken);

    /// <summary>Replaces the months' rows of <paramref name="monthTable"/> with the sums of the current day rows by month and <paramref name="keys"/>.</summary>
    private Task RollUpAsync(string dayTable, string monthTable, IReadOnlyList<TableColumn> columns, IReadOnlyList<string> keys, IReadOnlyList<DateOnly> months,
        CancellationToken cancellationToken)
    {
        if (months.Count == 0) return Task.CompletedTask;
        var values = columns.Select(c => keys.Contains(c.Name) ? c.Name : $"sum({c.Name})");
        var rows = $"SELECT toStartOfMonth(period) AS p, {Columns(values)} " +
            $"FROM {dayTable} WHERE {ClickHouseEventStore.CurrentRows(dayTable, months.Min(), months.Max().AddMonths(1).AddDays(-1))} AND p IN ({string.Join(", ", months.Select(Quote))}) " +
            $"GROUP BY p, {string.Join(", ", keys)}";
        return ReplacePeriodsAsync(monthTable, columns, rows, months, null, cancellationToken);
    }

    // ---- reading raw events -----------------------------------------------------------------------

    /// <summary>Where a statement reads a type's events of <see cref="Days"/>: FROM <see cref="From"/> WHERE <see cref="Where"/>.</summary>
    /// <param name="Events">How many events that is, each id once, robots included.</param>
    private sealed record RawSource(EventType Type, IReadOnlyList<DateOnly> Days, string From, string Where, long Events);

    /// <summary>
    /// The type's events on the days, or null without a raw table. A race between appends can store an id twice, on one
    /// shard, as both copies have the same session. Each shard counts its rows and ids; only where they differ are the
    /// events read through a subquery that keeps one row per id, which the shards cannot group beneath. Otherwise
    /// statements read the table itself, and its GROUP BYs run on the shards.
    /// </summary>
    private async Task<RawSource?> SourceAsync(EventType type, IReadOnlyList<DateOnly> days, CancellationToken cancellationToken)
    {
        if (!await store.EventTableExistsAsync(type.Name, cancellationToken)) return null;
        var table = Events(type.Name);
        var where = InDays(days);
        var shards = await db.QueryListAsync($"SELECT count(), uniqExact(id) FROM {table} WHERE {where} SETTINGS distributed_group_by_no_merge = 1",
            row => (Rows: row.GetInt64(0), Ids: row.GetInt64(1)), cancellationToken);
        var ids = shards.Sum(s => s.Ids);
        var columns = string.Join(", ", Envelope.Concat(type.Fields.Select(f => Field(f.Name))));
        var from = shards.Sum(s => s.Rows) == ids ? table : $"(SELECT {columns} FROM {table} WHERE {where} LIMIT 1 BY id)";
        return new RawSource(type, days, from, where, ids);
    }

    /// <summary>The condition for events on the days: a range of times, which picks partitions, then the days themselves.</summary>
    private static string InDays(IReadOnlyList<DateOnly> days) =>
        $"ts >= {Number(Ms(days.Min()))} AND ts < {Number(Ms(days.Max().AddDays(1)))} AND {Day} IN ({string.Join(", ", days.Select(Quote))})";

    private static long Ms(DateOnly day) => (day.DayNumber - DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber) * 86_400_000L;

    /// <summary>A text, integer or boolean field's value as <see cref="DayCalculator"/> formats a group-by key (numbers: <see cref="NumberTextAsync"/>).</summary>
    private static string Formatted(FieldDefinition field)
    {
        var column = Field(field.Name);
        return field.Type switch
        {
            FieldType.Boolean => $"if(isNull({column}), {NullText}, if(assumeNotNull({column}) = 0, 'false', 'true'))",
            FieldType.Integer => $"toString({column})",
            _ => column,
        };
    }

    /// <summary>A field of the type as <see cref="TallyEvent.Text"/> reads it: its value when it is a text field, else null.</summary>
    private static string Text(EventType type, string field) =>
        type.Field(field) is { Type: FieldType.String } definition ? Field(definition.Name) : NullText;
}
