using System.Data.Common;
using System.Globalization;
using System.Text;
using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Store;

namespace Tally.Storage.Relational;

/// <summary>
/// The set-based statements that compute metrics inside a relational engine by the rules <see cref="DayCalculator"/>,
/// <see cref="CounterDayCalculator"/> and <see cref="ItemMetadataReader"/> state in C#. Raw events come from a relation
/// the engine names per type (its table, or a union of partitions) with the columns ts, robot, visitor, session and
/// one per field. Days and months are written into the statements as literals.
/// </summary>
public sealed class MetricSql(MetricSqlDialect dialect)
{
    /// <summary>
    /// The temporary lookup of referrer keys the engine fills in before <see cref="Stage"/> of aggregations that group
    /// by referrer: one row per pair <see cref="DistinctReferrers"/> gives that has a key, with the key
    /// <see cref="Referrers.Key"/> computes.
    /// </summary>
    public const string ReferrerKeys = "tally_referrer_keys";

    /// <summary>The columns of <see cref="ReferrerKeys"/>, all text: the referrer, the page authority ("" for none) and the key.</summary>
    public static readonly string[] ReferrerKeyColumns = ["referrer", "authority", "key"];

    /// <summary>The instants the days cover, [From, To).</summary>
    public static (DateTime From, DateTime To) Span(IReadOnlyList<DateOnly> days) =>
        (days.Min().ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc), days.Max().AddDays(1).ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc));

    /// <summary>The raw events of a type held in <paramref name="partitions"/>: the one table, or a union of them; null for none.</summary>
    public string? Events(EventType type, IReadOnlyList<string> partitions)
    {
        if (partitions.Count <= 1) return partitions.SingleOrDefault();
        var columns = string.Join(", ", new[] { "ts", "robot", "visitor", "session" }.Concat(type.Fields.Select(dialect.Field)));
        return $"({string.Join(" UNION ALL ", partitions.Select(p => $"SELECT {columns} FROM {p}"))})";
    }

    /// <summary>The rows of <see cref="ReferrerKeys"/>: each (referrer, page authority or "") pair <see cref="DistinctReferrers"/> gave that has a key, with it.</summary>
    public static IEnumerable<(string Referrer, string Authority, string Key)> KeyReferrers(IEnumerable<(string Referrer, string Authority)> pairs, Referrers referrers)
    {
        foreach (var (referrer, authority) in pairs)
            if (referrers.Key(referrer, authority.Length == 0 ? null : authority) is { } key) yield return (referrer, authority, key);
    }

    public string DeletePeriods(string table, IReadOnlyList<DateOnly> periods) =>
        $"DELETE FROM {table} WHERE period IN ({Days(periods)})";

    /// <summary>Whether <see cref="Stage"/> of any of the aggregations needs <see cref="ReferrerKeys"/> filled in.</summary>
    public static bool GroupsByReferrer(IEnumerable<AggregationDefinition> aggregations) =>
        aggregations.Any(a => a.GroupBy.Any(f => f.Name == WellKnownFields.Referrer));

    /// <summary>The distinct (referrer as text, page authority or "") pairs of the days, robots included, for <see cref="ReferrerKeys"/>.</summary>
    public string DistinctReferrers(EventType type, string events, IReadOnlyList<DateOnly> days)
    {
        var referrer = Text(type.Field(WellKnownFields.Referrer)!);
        return $"SELECT DISTINCT {referrer}, {Authority(type)} FROM {events} e WHERE {Within(days)} AND {referrer} IS NOT NULL";
    }

    /// <summary>
    /// The days' raw events of a type, robots included, staged once in a narrow temporary table for all of the type's
    /// aggregations: each then groups those few columns instead of reading the raw events again.
    /// </summary>
    public MetricStage Stage(EventType type, IReadOnlyList<AggregationDefinition> aggregations, string events, IReadOnlyList<DateOnly> days)
    {
        var keys = aggregations.SelectMany(a => a.GroupBy).DistinctBy(f => f.Name).ToList();
        var sums = aggregations.SelectMany(a => a.SumFields).DistinctBy(f => f.Name).ToList();
        var join = "";
        var columns = new StringBuilder();
        for (var i = 0; i < keys.Count; i++)
        {
            var key = Text(keys[i]);
            if (keys[i].Name == WellKnownFields.Referrer)
            {
                join = $" LEFT JOIN {ReferrerKeys} rk ON rk.referrer = {key} AND rk.authority = {Authority(type)}";
                key = "rk.key";
            }
            columns.Append($", {key} AS k{i}");
        }
        for (var i = 0; i < sums.Count; i++) columns.Append($", e.{dialect.Field(sums[i])} AS s{i}");
        var select = $"SELECT {dialect.DayOf("e.ts")} AS day, e.robot, e.visitor, e.session{columns} FROM {events} e{join} WHERE {Within(days)}";
        return new MetricStage(this, dialect.CreateTemporary(MetricStage.Table, select), keys, sums, aggregations, days);
    }

    /// <summary>
    /// Inserts the aggregation's rows of the staged days, at each kept grouping: grouping bit i set keeps group-by field i, as
    /// <see cref="AggregationDefinition.Groupings"/> numbers them. A grouping one of the <paramref name="earlier"/> aggregations
    /// (inserted before from the same stage) already holds is copied from its rows rather than counted again.
    /// </summary>
    internal string InsertDays(AggregationDefinition aggregation, IEnumerable<AggregationDefinition> earlier, MetricStage stage, IReadOnlyList<DateOnly> days)
    {
        var groupBy = aggregation.GroupBy;
        var sums = aggregation.SumFields;
        var columns = string.Join(", ", new[] { "period", "grouping_set" }.Concat(groupBy.Select(dialect.Key))
            .Concat(["count", "unique_visitors", "unique_sessions"]).Concat(sums.SelectMany(f => new[] { dialect.Sum(f), dialect.SumCount(f) })));
        var selects = new List<string>();
        var counted = new List<int>();
        foreach (var grouping in aggregation.Groupings)
        {
            if (Holder(earlier, aggregation, grouping) is not { } holder)
            {
                counted.Add(grouping);
                continue;
            }
            // Key and metric columns are named by field, so the holder's rows fit once the keys this grouping drops are null.
            var keyColumns = string.Concat(groupBy.Select((f, i) => (grouping & 1 << i) != 0 ? $", {dialect.Key(f)}" : ", NULL"));
            var summed = string.Concat(sums.Select(f => $", {dialect.Sum(f)}, {dialect.SumCount(f)}"));
            selects.Add($"SELECT period, {grouping}{keyColumns}, count, unique_visitors, unique_sessions{summed} " +
                        $"FROM {dialect.Metrics(holder.Aggregation, MetricPeriod.Day)} WHERE grouping_set = {holder.Grouping} AND period IN ({Days(days)})");
        }
        if (counted.Count > 0) selects.Add(CountDays(aggregation, stage, counted));
        return $"INSERT INTO {dialect.Metrics(aggregation, MetricPeriod.Day)} ({columns}) {string.Join(" UNION ALL ", selects)}";
    }

    /// <summary>
    /// The first of <paramref name="earlier"/> whose rows at one of its groupings are the rows <paramref name="aggregation"/>
    /// has at <paramref name="grouping"/>: the same robots rule, the same fields kept, and every summed field among its own.
    /// </summary>
    private static (AggregationDefinition Aggregation, int Grouping)? Holder(IEnumerable<AggregationDefinition> earlier, AggregationDefinition aggregation, int grouping)
    {
        var fields = aggregation.FieldsOf(grouping).Select(f => f.Name).ToList();
        foreach (var holder in earlier)
        {
            if (holder.IncludeRobots != aggregation.IncludeRobots || !aggregation.SumFields.All(f => holder.SumFields.Any(h => h.Name == f.Name))) continue;
            if (!fields.All(f => holder.GroupBy.Any(g => g.Name == f))) continue;
            var held = holder.GroupingOf(fields);
            if (holder.Groupings.Contains(held)) return (holder, held);
        }
        return null;
    }

    /// <summary>
    /// The SELECT that counts the staged days at <paramref name="groupings"/>: one with GROUPING SETS where the engine has
    /// them, else one per grouping, with count(DISTINCT) or, where the dialect says it is faster, distinct visitors and
    /// sessions counted in two steps (rows grouped with each visitor and with each session, then those groups counted).
    /// </summary>
    private string CountDays(AggregationDefinition aggregation, MetricStage stage, IReadOnlyList<int> groupings)
    {
        var groupBy = aggregation.GroupBy;
        var sums = aggregation.SumFields;
        var keys = string.Concat(groupBy.Select((f, i) => $", k{stage.Keys.FindIndex(k => k.Name == f.Name)} AS k{i}"));
        var summed = string.Concat(sums.Select((f, i) => $", s{stage.Sums.FindIndex(s => s.Name == f.Name)} AS s{i}"));
        var robots = aggregation.IncludeRobots ? "" : " WHERE NOT robot";
        var rows = $"(SELECT day, visitor, session{keys}{summed} FROM {MetricStage.Table}{robots}) r";
        var all = Enumerable.Range(0, groupBy.Count).Select(i => $"k{i}").ToList();
        List<string> Kept(int grouping) => all.Where((_, i) => (grouping & 1 << i) != 0).ToList();

        var distinct = "count(*), count(DISTINCT visitor), count(DISTINCT session)" +
            string.Concat(sums.Select((_, i) => $", coalesce(sum(CAST(s{i} AS double precision)), 0), count(s{i})"));
        if (groupBy.Count == 0 || dialect.HasGroupingSets)
        {
            // GROUPING(k) is 1 where the grouping set drops k: the kept fields' bits make the grouping's number.
            var grouping = groupBy.Count == 0 ? "0" : string.Join(" + ", all.Select((k, i) => $"(1 - GROUPING({k})) * {1 << i}"));
            var sets = groupBy.Count == 0 ? "" : $", GROUPING SETS ({string.Join(", ", groupings.Select(g => $"({string.Join(", ", Kept(g))})"))})";
            return $"SELECT day, {grouping}{string.Concat(all.Select(k => $", {k}"))}, {distinct} FROM {rows} GROUP BY day{sets}";
        }

        string KeyColumns(int grouping) => string.Concat(all.Select((k, i) => (grouping & 1 << i) != 0 ? $", {k}" : $", NULL AS {k}"));
        string Groups(int grouping) => string.Join(", ", Kept(grouping).Prepend("day"));
        if (!dialect.DistinctInTwoSteps)
            return string.Join(" UNION ALL ", groupings.Select(g => $"SELECT day, {g}{KeyColumns(g)}, {distinct} FROM {rows} GROUP BY {Groups(g)}"));

        // Per visitor: the events and the sums; per session: one. The outer sums then count each visitor and session once.
        var byVisitor = ", count(*) AS n, 1 AS v, 0 AS u" + string.Concat(sums.Select((_, i) => $", sum(CAST(s{i} AS double precision)) AS s{i}, count(s{i}) AS c{i}"));
        var bySession = ", 0, 0, 1" + string.Concat(sums.Select(_ => ", 0, 0"));
        var twoSteps = "sum(n), sum(v), sum(u)" + string.Concat(sums.Select((_, i) => $", coalesce(sum(s{i}), 0), sum(c{i})"));
        return string.Join(" UNION ALL ", groupings.Select(g =>
        {
            string Grouped(string measures, string who) => $"SELECT day{KeyColumns(g)}{measures} FROM {rows} GROUP BY {Groups(g)}, {who}";
            return $"SELECT day, {g}{KeyColumns(g)}, {twoSteps} FROM ({Grouped(byVisitor, "visitor")} UNION ALL {Grouped(bySession, "session")}) x GROUP BY {Groups(g)}";
        }));
    }

    /// <summary>
    /// Inserts the COUNTER rows of the days from the raw events of every source, by the rules of <see cref="CounterDayCalculator"/>;
    /// null when no source has a COUNTER role. Callers delete the days' rows first.
    /// </summary>
    public string? InsertCounterDays(IReadOnlyList<(EventType Type, string Events)> sources, IReadOnlyList<DateOnly> days)
    {
        var clicks = sources.Where(s => s.Type.Counter is CounterRole.Investigation or CounterRole.Request or CounterRole.NoLicense or CounterRole.LimitExceeded)
            .Select((s, t) => ClickRows(s.Type, s.Events, t, days)).ToList();
        var searches = sources.Where(s => s.Type.Counter == CounterRole.Search).Select(s => SearchRows(s.Type, s.Events, days)).ToList();
        if (clicks.Count == 0 && searches.Count == 0) return null;

        var dimensions = CounterNames.Dimensions.Select(d => Quote(CounterNames.Column(d))).ToList();
        var columns = string.Join(", ", new[] { "period", "month" }.Concat(dimensions).Concat(CounterNames.Metrics.Select(m => Quote(CounterNames.Column(m)))));
        var dimensionList = string.Join(", ", dimensions);
        var month = MonthOf("day", days);
        var with = new List<string>();
        var selects = new List<string>();
        if (clicks.Count > 0)
        {
            // The click sort of CounterDayCalculator: time, then the row's dimension values, ordinally with nulls first, then the session.
            var rowOrder = string.Join(", ", dimensions.Select(d => $"{dialect.Ordinal(d)} NULLS FIRST"));
            const int investigation = (int)CounterRole.Investigation, request = (int)CounterRole.Request;
            var (isInvestigation, isRequest) = ($"role IN ({investigation}, {request})", $"role = {request}");
            var clickKey = "day, t, visitor, target";
            // A click is removed when the same user clicks the same target of the same type again before the window ends.
            with.AddRange(WindowedWhereShared("counted", ("clicks", string.Join(" UNION ALL ", clicks)), $"day, role, ts, session, {dimensionList}", clickKey,
                [("next_ts", $"lead(ts) OVER (PARTITION BY {clickKey} ORDER BY ts, {rowOrder}, session)", "NULL")],
                $"next_ts IS NULL OR next_ts >= {dialect.AfterDoubleClickWindow("ts")}"));
            // Each report row's clicks by session: its unique item counts are these sessions, and its unique title counts need only their first clicks.
            var titleSession = $"day, session, coalesce({Quote("title_id")}, {Quote("item_id")}), {string.Join(", ", dimensions.Skip(2))}";
            var sessions = $"""
                SELECT day, {dimensionList}, session,
                sum(CASE WHEN {isInvestigation} THEN 1 ELSE 0 END) AS investigations, sum(CASE WHEN {isRequest} THEN 1 ELSE 0 END) AS requests,
                sum(CASE WHEN role = {(int)CounterRole.NoLicense} THEN 1 ELSE 0 END) AS no_license, sum(CASE WHEN role = {(int)CounterRole.LimitExceeded} THEN 1 ELSE 0 END) AS limit_exceeded,
                min(CASE WHEN {isInvestigation} THEN ts END) AS first_investigation, min(CASE WHEN {isRequest} THEN ts END) AS first_request
                FROM counted GROUP BY day, {dimensionList}, session
                """;
            // A title-session is credited to the row of its earliest click (then smallest item id), among investigations and among requests.
            // Only the rows of a title-session that spans several rows (items of one title) need the ranking.
            (string, string, string) Credit(string name, string count, string first) => (name,
                $"CASE WHEN {count} > 0 AND ROW_NUMBER() OVER (PARTITION BY {titleSession} ORDER BY {first} NULLS LAST, {rowOrder}) = 1 THEN 1 ELSE 0 END",
                $"CASE WHEN {count} > 0 THEN 1 ELSE 0 END");
            with.AddRange(WindowedWhereShared("credited", ("sessions", sessions), $"day, {dimensionList}, investigations, requests, no_license, limit_exceeded", titleSession,
                [Credit("title_investigation", "investigations", "first_investigation"), Credit("title_request", "requests", "first_request")]));
            var metrics = CounterNames.Metrics.Select(m => m switch
            {
                CounterMetric.TotalItemInvestigations => "sum(investigations)",
                CounterMetric.TotalItemRequests => "sum(requests)",
                CounterMetric.UniqueItemInvestigations => "sum(CASE WHEN investigations > 0 THEN 1 ELSE 0 END)",
                CounterMetric.UniqueItemRequests => "sum(CASE WHEN requests > 0 THEN 1 ELSE 0 END)",
                CounterMetric.UniqueTitleInvestigations => "sum(title_investigation)",
                CounterMetric.UniqueTitleRequests => "sum(title_request)",
                CounterMetric.NoLicense => "sum(no_license)",
                CounterMetric.LimitExceeded => "sum(limit_exceeded)",
                _ => "0",
            });
            selects.Add($"SELECT day, {month}, {dimensionList}, {string.Join(", ", metrics)} FROM credited GROUP BY day, {dimensionList}");
        }
        if (searches.Count > 0)
        {
            var kept = CounterNames.Dimensions.Where(d => d is not (CounterDimension.ItemId or CounterDimension.TitleId or CounterDimension.AccessType))
                .Select(d => Quote(CounterNames.Column(d))).ToList();
            var keys = CounterNames.Dimensions.Select(d => kept.Contains(Quote(CounterNames.Column(d))) ? Quote(CounterNames.Column(d)) : "NULL");
            var metrics = CounterNames.Metrics.Select(m => m switch
            {
                CounterMetric.SearchesRegular or CounterMetric.SearchesPlatform => "sum(regular)",
                CounterMetric.SearchesAutomated => "sum(automated)",
                CounterMetric.SearchesFederated => "sum(federated)",
                _ => "0",
            });
            with.Add($"searches AS ({string.Join(" UNION ALL ", searches)})");
            selects.Add($"SELECT day, {month}, {string.Join(", ", keys)}, {string.Join(", ", metrics)} FROM searches GROUP BY day, {string.Join(", ", kept)}");
        }
        return $"WITH {string.Join(", ", with)} INSERT INTO {dialect.Counter(MetricPeriod.Day)} ({columns}) {string.Join(" UNION ALL ", selects)}";
    }

    /// <summary>
    /// Common table expressions: <paramref name="rows"/>, named and defined by its SELECT, then <paramref name="name"/>: the
    /// <paramref name="columns"/> of those rows and window <paramref name="values"/> over partitions by <paramref name="key"/>,
    /// where <paramref name="kept"/> holds. Most partitions hold one row and the window is the costly part, so where the
    /// engine hashes, the rows carry their key's hash and only rows whose hash another row shares go through the window; the
    /// others take each value's Alone, what the window gives a row alone in its partition, and are kept (<paramref name="kept"/>
    /// holds for them). Two keys with one hash only send more rows through the window.
    /// </summary>
    private IEnumerable<string> WindowedWhereShared(
        string name, (string Name, string Select) rows, string columns, string key, IReadOnlyList<(string Name, string Window, string Alone)> values, string? kept = null)
    {
        var hash = dialect.Hash(key);
        yield return $"{rows.Name} AS (SELECT r.*{(hash is null ? "" : $", {hash} AS h")} FROM ({rows.Select}) r)";
        var windows = string.Join(", ", values.Select(v => $"{v.Window} AS {v.Name}"));
        var names = string.Concat(values.Select(v => $", {v.Name}"));
        string Windowed(string filter) => $"SELECT {columns}{names} FROM (SELECT r.*, {windows} FROM {rows.Name} r{filter}) o{(kept is null ? "" : $" WHERE {kept}")}";
        if (hash is null)
        {
            yield return $"{name} AS ({Windowed("")})";
            yield break;
        }
        var shared = $"(SELECT h FROM {name}_shared)";
        yield return $"{name}_shared AS (SELECT h FROM {rows.Name} GROUP BY h HAVING count(*) > 1)";
        yield return $"{name} AS (SELECT {columns}{string.Concat(values.Select(v => $", {v.Alone} AS {v.Name}"))} FROM {rows.Name} WHERE h NOT IN {shared} " +
                     $"UNION ALL {Windowed($" WHERE h IN {shared}")})";
    }

    /// <summary>A type's clicks on items, robots left out: <paramref name="t"/> tells the type, and defaults fill in access type and method.</summary>
    private string ClickRows(EventType type, string events, int t, IReadOnlyList<DateOnly> days)
    {
        var item = CounterText(type, WellKnownFields.ItemId);
        var target = $"coalesce({CounterText(type, WellKnownFields.Url)}, {item} || '\u001f' || coalesce({CounterText(type, WellKnownFields.Format)}, ''))";
        return $"SELECT {t} AS t, {(int)type.Counter} AS role, e.ts, {dialect.DayOf("e.ts")} AS day, e.visitor, e.session, {Dimensions(type)}, {target} AS target " +
               $"FROM {events} e WHERE {Within(days)} AND NOT e.robot AND {item} IS NOT NULL";
    }

    /// <summary>A type's searches by kind, robots left out: what search_type does not name automated or federated is regular.</summary>
    private string SearchRows(EventType type, string events, IReadOnlyList<DateOnly> days)
    {
        var kind = CounterText(type, WellKnownFields.SearchType);
        return $"SELECT {dialect.DayOf("e.ts")} AS day, {Dimensions(type)}, " +
               $"CASE {kind} WHEN 'automated' THEN 0 WHEN 'federated' THEN 0 ELSE 1 END AS regular, " +
               $"CASE {kind} WHEN 'automated' THEN 1 ELSE 0 END AS automated, CASE {kind} WHEN 'federated' THEN 1 ELSE 0 END AS federated " +
               $"FROM {events} e WHERE {Within(days)} AND NOT e.robot";
    }

    /// <summary>The COUNTER dimensions of a raw event, named as the COUNTER tables' columns.</summary>
    private string Dimensions(EventType type) => string.Join(", ", CounterNames.Dimensions.Select(d =>
    {
        var value = CounterText(type, CounterNames.Column(d));
        var defaulted = d switch
        {
            CounterDimension.AccessType => $"coalesce({value}, 'Controlled')",
            CounterDimension.AccessMethod => $"coalesce({value}, 'Regular')",
            _ => value,
        };
        return $"{defaulted} AS {Quote(CounterNames.Column(d))}";
    }));

    /// <summary>
    /// The distinct combinations of <see cref="ItemMetadataReader.EventFields"/> the type declares, with an item id and another
    /// of them, and the latest time each was stated: columns max(ts), then the returned fields in order; null when the type has no item id.
    /// </summary>
    public string? StatedMetadata(EventType type, string events, IReadOnlyList<DateOnly> days, out IReadOnlyList<FieldDefinition> fields)
    {
        fields = ItemMetadataReader.EventFields.Select(type.Field).OfType<FieldDefinition>().ToList();
        if (type.Field(WellKnownFields.ItemId) is not { } itemId) return null;
        var columns = string.Join(", ", fields.Select(f => $"e.{dialect.Field(f)}"));
        var others = string.Join(" OR ", fields.Where(f => f != itemId).Select(f => $"e.{dialect.Field(f)} IS NOT NULL"));
        return $"SELECT max(e.ts), {columns} FROM {events} e WHERE {Within(days)} AND e.{dialect.Field(itemId)} IS NOT NULL AND ({(others.Length == 0 ? "1 = 0" : others)}) GROUP BY {columns}";
    }

    /// <summary>Inserts each month's rows of the aggregation: the sums of its day rows, grouping by grouping. Callers delete the months' rows first.</summary>
    public string InsertMonths(AggregationDefinition aggregation, IReadOnlyList<DateOnly> months)
    {
        var keys = aggregation.GroupBy.Select(dialect.Key).ToList();
        var summed = new[] { "count", "unique_visitors", "unique_sessions" }.Concat(aggregation.SumFields.SelectMany(f => new[] { dialect.Sum(f), dialect.SumCount(f) })).ToList();
        var columns = string.Join(", ", new[] { "period", "grouping_set" }.Concat(keys).Concat(summed));
        var groups = string.Join(", ", new[] { "m", "grouping_set" }.Concat(keys));
        var (from, to) = (months.Min(), months.Max().AddMonths(1));
        return $"INSERT INTO {dialect.Metrics(aggregation, MetricPeriod.Month)} ({columns}) " +
               $"SELECT {groups}, {string.Join(", ", summed.Select(c => $"sum({c})"))} " +
               $"FROM (SELECT {MonthOf("period", months)} AS m, d.* FROM {dialect.Metrics(aggregation, MetricPeriod.Day)} d " +
               $"WHERE period >= {dialect.Day(from)} AND period < {dialect.Day(to)}) r WHERE m IS NOT NULL GROUP BY {groups}";
    }

    /// <summary>Inserts each month's COUNTER rows: the sums of its day rows. Callers delete the months' rows first.</summary>
    public string InsertCounterMonths(IReadOnlyList<DateOnly> months)
    {
        var dimensions = string.Join(", ", CounterNames.Dimensions.Select(d => Quote(CounterNames.Column(d))));
        var metrics = CounterNames.Metrics.Select(m => Quote(CounterNames.Column(m))).ToList();
        return $"INSERT INTO {dialect.Counter(MetricPeriod.Month)} (period, month, {dimensions}, {string.Join(", ", metrics)}) " +
               $"SELECT month, month, {dimensions}, {string.Join(", ", metrics.Select(m => $"sum({m})"))} FROM {dialect.Counter(MetricPeriod.Day)} " +
               $"WHERE month IN ({Days(months)}) GROUP BY month, {dimensions}";
    }

    /// <summary><see cref="IMetricStore.ReadMetricsAsync"/> on a connection of the engine.</summary>
    public async Task<IReadOnlyList<MetricRow>> ReadMetricsAsync(DbConnection connection, MetricQuery query, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        var keys = query.GroupBy.Select(dialect.Key).ToList();
        var groups = (query.ByPeriod ? ["period"] : Array.Empty<string>()).Concat(keys).ToList();
        command.CommandText = $"SELECT {string.Concat(groups.Select(g => $"{g}, "))}{Measures(query.Aggregation)} " +
            $"FROM {dialect.Metrics(query.Aggregation, query.Source)} WHERE {Where(query, Binder(command))}" +
            (groups.Count > 0 ? $" GROUP BY {string.Join(", ", groups)}" : "") + " HAVING count(*) > 0";
        var rows = new List<MetricRow>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var keysAt = query.ByPeriod ? 1 : 0;
        while (await reader.ReadAsync(cancellationToken))
            rows.Add(ReadRow(reader, query.ByPeriod ? dialect.ReadDay(reader, 0) : default, keysAt, query));
        return rows;
    }

    /// <summary><see cref="IMetricStore.ReadCounterMetricsAsync"/> on a connection of the engine.</summary>
    public async Task<IReadOnlyList<CounterRow>> ReadCounterMetricsAsync(DbConnection connection, CounterQuery query, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        var bind = Binder(command);
        var where = new StringBuilder($"period BETWEEN {dialect.Day(query.From)} AND {dialect.Day(query.To)}");
        foreach (var (dimension, values) in query.Filters)
        {
            var column = Quote(CounterNames.Column(dimension));
            var tests = new List<string>();
            if (values.Contains(null)) tests.Add($"{column} IS NULL");
            if (values.OfType<string>().ToList() is { Count: > 0 } named) tests.Add($"{column} IN ({string.Join(", ", named.Select(v => bind(v)))})");
            where.Append($" AND ({(tests.Count == 0 ? "1 = 0" : string.Join(" OR ", tests))})");
        }
        var groups = (query.ByMonth ? ["month"] : Array.Empty<string>()).Concat(query.GroupBy.Select(d => Quote(CounterNames.Column(d)))).ToList();
        var sums = string.Join(", ", CounterNames.Metrics.Select(m => $"CAST(sum({Quote(CounterNames.Column(m))}) AS BIGINT)"));
        command.CommandText = $"SELECT {string.Concat(groups.Select(g => $"{g}, "))}{sums} FROM {dialect.Counter(query.Source)} WHERE {where}" +
            (groups.Count > 0 ? $" GROUP BY {string.Join(", ", groups)}" : "") + " HAVING count(*) > 0";
        var rows = new List<CounterRow>();
        var keysAt = query.ByMonth ? 1 : 0;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var keys = new string?[query.GroupBy.Count];
            for (var k = 0; k < keys.Length; k++) keys[k] = reader.IsDBNull(keysAt + k) ? null : reader.GetString(keysAt + k);
            var row = new CounterRow(query.ByMonth ? dialect.ReadDay(reader, 0) : default, keys);
            for (var m = 0; m < row.Values.Length; m++) row.Values[m] = reader.GetInt64(keysAt + keys.Length + m);
            rows.Add(row);
        }
        return rows;
    }

    /// <summary><see cref="IMetricStore.RankMetricsAsync"/> on a connection of the engine: the engine sums, ranks and pages.</summary>
    public async Task<RankedMetrics> RankMetricsAsync(
        DbConnection connection, IReadOnlyList<MetricQuery> parts, MetricSelector metric, int offset, int count, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = RankMetrics(parts, metric, offset, count, Binder(command));
        var rows = new List<MetricRow>();
        var total = 0;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var row = ReadRow(reader, default, 0, parts[0]);
                rows.Add(row);
                total = Convert.ToInt32(reader.GetValue(reader.FieldCount - 1), CultureInfo.InvariantCulture);
            }
        }
        if (rows.Count == 0 && offset > 0)
        {
            command.Parameters.Clear();
            command.CommandText = $"SELECT count(*) FROM (SELECT 1 AS g {Groups(parts, Binder(command)).Sql}) groups";
            total = Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
        }
        return new RankedMetrics(rows, total);
    }

    /// <summary>
    /// One row per group of the page, with the keys, the <see cref="Measures"/>, then how many groups there are in all.
    /// <paramref name="bind"/> adds a parameter and returns how the statement names it.
    /// </summary>
    private string RankMetrics(IReadOnlyList<MetricQuery> parts, MetricSelector metric, int offset, int count, Func<object, string> bind)
    {
        var (groups, keys) = Groups(parts, bind);
        var aggregation = parts[0].Aggregation;
        var value = metric.Kind switch
        {
            MetricKind.Count => "sum(count)",
            MetricKind.UniqueVisitors => "sum(unique_visitors)",
            MetricKind.UniqueSessions => "sum(unique_sessions)",
            MetricKind.Sum => $"sum({dialect.Sum(aggregation.SumFields[metric.SumIndex])})",
            _ => $"CASE WHEN sum({dialect.SumCount(aggregation.SumFields[metric.SumIndex])}) = 0 THEN 0 " +
                 $"ELSE sum({dialect.Sum(aggregation.SumFields[metric.SumIndex])}) / sum({dialect.SumCount(aggregation.SumFields[metric.SumIndex])}) END",
        };
        var order = string.Concat(keys.Select(k => $", {dialect.Ordinal($"coalesce({k}, '')")}"));
        return $"SELECT {string.Concat(keys.Select(k => $"{k}, "))}{Measures(aggregation)}, count(*) OVER () {groups} ORDER BY {value} DESC{order} " +
               string.Create(CultureInfo.InvariantCulture, $"LIMIT {count} OFFSET {offset}");
    }

    /// <summary>The FROM … GROUP BY … HAVING of a ranking: the parts' rows of their grouping, filtered, one group per key.</summary>
    private (string Sql, List<string> Keys) Groups(IReadOnlyList<MetricQuery> parts, Func<object, string> bind)
    {
        var aggregation = parts[0].Aggregation;
        var keys = parts[0].GroupBy.Select(dialect.Key).ToList();
        var columns = string.Join(", ", keys.Concat(["count", "unique_visitors", "unique_sessions"])
            .Concat(aggregation.SumFields.SelectMany(f => new[] { dialect.Sum(f), dialect.SumCount(f) })));
        var selects = parts.Select(part => $"SELECT {columns} FROM {dialect.Metrics(aggregation, part.Source)} WHERE {Where(part, bind)}");
        var groupBy = keys.Count == 0 ? "" : $" GROUP BY {string.Join(", ", keys)}";
        return ($"FROM ({string.Join(" UNION ALL ", selects)}) parts{groupBy} HAVING count(*) > 0", keys);
    }

    /// <summary>The stored rows of a query's grouping, periods and filters.</summary>
    private string Where(MetricQuery query, Func<object, string> bind)
    {
        var where = new StringBuilder(string.Create(CultureInfo.InvariantCulture,
            $"grouping_set = {query.Grouping} AND period BETWEEN {dialect.Day(query.From)} AND {dialect.Day(query.To)}"));
        foreach (var filter in query.Filters)
        {
            var column = dialect.Key(query.Aggregation.GroupBy.First(f => f.Name == filter.Field));
            var list = filter.Values.Count == 0 ? "NULL" : string.Join(", ", filter.Values.Select(v => bind(v)));
            where.Append(filter.Negated ? $" AND ({column} IS NULL OR {column} NOT IN ({list}))" : $" AND {column} IN ({list})");
        }
        return where.ToString();
    }

    /// <summary>The summed count, unique visitors and sessions, then each sum and its count; integers as BIGINT, which engines widen when they sum.</summary>
    private string Measures(AggregationDefinition aggregation) =>
        string.Join(", ", new[] { "count", "unique_visitors", "unique_sessions" }.Select(m => $"CAST(sum({m}) AS BIGINT)")
            .Concat(aggregation.SumFields.SelectMany(f => new[] { $"sum({dialect.Sum(f)})", $"CAST(sum({dialect.SumCount(f)}) AS BIGINT)" })));

    /// <summary>A metric row from the group keys at <paramref name="keysAt"/> and the <see cref="Measures"/> after them.</summary>
    private static MetricRow ReadRow(DbDataReader reader, DateOnly period, int keysAt, MetricQuery query)
    {
        var keys = new string?[query.GroupBy.Count];
        for (var k = 0; k < keys.Length; k++) keys[k] = reader.IsDBNull(keysAt + k) ? null : reader.GetString(keysAt + k);
        return MetricRow.FromMeasures(new ReaderColumns(reader), keysAt + keys.Length, period, keys, query.Aggregation.SumFields.Count);
    }

    private readonly record struct ReaderColumns(DbDataReader Reader) : IMeasureColumns
    {
        public long GetInt64(int field) => Reader.GetInt64(field);

        public double GetDouble(int field) => Reader.GetDouble(field);
    }

    /// <summary>Adds parameters to the command as the dialect names them.</summary>
    private Func<object, string> Binder(DbCommand command) => value =>
    {
        var parameter = command.CreateParameter();
        var placeholder = dialect.Parameter(command.Parameters.Count);
        parameter.ParameterName = placeholder[1..];
        parameter.Value = value;
        command.Parameters.Add(parameter);
        return placeholder;
    };

    /// <summary>The raw events of the days: a range on ts the engine can prune partitions by, then the days themselves.</summary>
    private string Within(IReadOnlyList<DateOnly> days)
    {
        var (from, to) = Span(days);
        return $"e.ts >= {dialect.Instant(from)} AND e.ts < {dialect.Instant(to)} AND {dialect.DayOf("e.ts")} IN ({Days(days)})";
    }

    private string Days(IEnumerable<DateOnly> days) => string.Join(", ", days.Distinct().Order().Select(dialect.Day));

    /// <summary>The first day of the month of a period column, for the months of <paramref name="days"/>; null outside them.</summary>
    private string MonthOf(string period, IReadOnlyList<DateOnly> days)
    {
        var months = days.Select(d => new DateOnly(d.Year, d.Month, 1)).Distinct().Order();
        return $"CASE {string.Concat(months.Select(m => $"WHEN {period} >= {dialect.Day(m)} AND {period} < {dialect.Day(m.AddMonths(1))} THEN {dialect.Day(m)} "))}END";
    }

    /// <summary>A raw field as <see cref="DayCalculator"/> formats a group-by value.</summary>
    private string Text(FieldDefinition field)
    {
        var column = $"e.{dialect.Field(field)}";
        return field.Type switch
        {
            FieldType.String => column,
            FieldType.Integer => $"CAST({column} AS text)",
            FieldType.Boolean => $"CASE WHEN {column} THEN 'true' WHEN NOT {column} THEN 'false' END",
            _ => dialect.NumberText(column),
        };
    }

    /// <summary>A field COUNTER reads as text: null where the type lacks it or holds it as another type, as <see cref="TallyEvent.Text"/> reads it.</summary>
    private string CounterText(EventType type, string name) =>
        type.Field(name) is { Type: FieldType.String } field ? $"e.{dialect.Field(field)}" : "CAST(NULL AS text)";

    /// <summary>The page authority of a raw event's url, "" for none.</summary>
    private string Authority(EventType type) =>
        type.Field(WellKnownFields.Url) is { Type: FieldType.String } url ? $"coalesce({dialect.PageAuthority($"e.{dialect.Field(url)}")}, '')" : "''";

    private static string Quote(string identifier) => $"\"{identifier}\"";
}
