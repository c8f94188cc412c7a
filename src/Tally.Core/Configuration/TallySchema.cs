using System.Collections.Frozen;
using System.Text.RegularExpressions;
using Tally.Core.Aggregate;
using Tally.Core.Events;
using Tally.Core.Process;
using Tally.Core.Store;

namespace Tally.Core.Configuration;

public enum ApiRole { Write, Admin }

/// <summary>
/// What a configured aggregation counts. Its metrics are stored at each kept grouping: a subset of its group-by
/// fields, as a bit mask over <see cref="GroupBy"/> (bit i keeps field i). Counts and sums could be added up from
/// the finest rows, but distinct visitors and sessions cannot: one visitor reading five items is one visitor of the
/// site, not five, so each grouping has its own, and costs its own pass at aggregation.
/// </summary>
public sealed record AggregationDefinition(
    string Name, EventType EventType, IReadOnlyList<FieldDefinition> GroupBy, IReadOnlyList<FieldDefinition> SumFields, bool IncludeRobots)
{
    /// <summary>The most group-by fields an aggregation may have: its metrics may be kept at 2^N groupings.</summary>
    public const int MaxGroupBy = 5;

    /// <summary>The groupings whose metrics are kept, in ascending order: every subset of <see cref="GroupBy"/> unless configured fewer.</summary>
    public IReadOnlyList<int> Groupings { get; init; } = Enumerable.Range(0, 1 << GroupBy.Count).ToList();

    /// <summary>Whether every grouping is kept (the full cube).</summary>
    public bool KeepsEveryGrouping => Groupings.Count == 1 << GroupBy.Count;

    /// <summary>Whether the metrics of the grouping that keeps exactly these group-by fields are kept.</summary>
    public bool Keeps(IEnumerable<string> fields) => Groupings.Contains(GroupingOf(fields));

    /// <summary>The groupings kept that no other kept grouping contains: what the configuration lists, as field names.</summary>
    public IReadOnlyList<IReadOnlyList<string>> WidestGroupings() =>
        Groupings.Where(g => !Groupings.Any(other => other != g && (other & g) == g))
            .Select(g => (IReadOnlyList<string>)FieldsOf(g).Select(f => f.Name).ToList()).ToList();

    /// <summary>The groupings that keep each of <paramref name="combinations"/> (bit masks) or part of one, ascending.</summary>
    public static IReadOnlyList<int> Within(IEnumerable<int> combinations) =>
        combinations.SelectMany(c => Enumerable.Range(0, c + 1).Where(g => (g & c) == g)).Append(0).Distinct().Order().ToList();

    /// <summary>The grouping that keeps exactly these fields, all of which are group-by fields.</summary>
    public int GroupingOf(IEnumerable<string> fields) => fields.Aggregate(0, (grouping, field) => grouping | 1 << IndexOf(field));

    /// <summary>Where a field stands in <see cref="GroupBy"/>.</summary>
    /// <exception cref="ArgumentException">It is not a group-by field (requests are checked against them before this).</exception>
    public int IndexOf(string field)
    {
        for (var i = 0; i < GroupBy.Count; i++)
        {
            if (GroupBy[i].Name == field) return i;
        }
        throw new ArgumentException($"'{field}' is not a group-by field of '{Name}'", nameof(field));
    }

    /// <summary>The group-by fields a grouping keeps, in <see cref="GroupBy"/> order.</summary>
    public IReadOnlyList<FieldDefinition> FieldsOf(int grouping) => GroupBy.Where((_, i) => (grouping & 1 << i) != 0).ToList();
}

public enum MetricKind { Count, UniqueVisitors, UniqueSessions, Sum, Avg }

/// <summary>One metric of an aggregation: count, unique_visitors, unique_sessions, sum:FIELD or avg:FIELD.</summary>
public sealed record MetricSelector(MetricKind Kind, int SumIndex)
{
    public static readonly MetricSelector Count = new(MetricKind.Count, -1);

    public static bool TryParse(string text, AggregationDefinition aggregation, out MetricSelector metric)
    {
        metric = Count;
        var (name, field) = text.IndexOf(':') is >= 0 and var colon ? (text[..colon], text[(colon + 1)..]) : (text, "");
        MetricKind? kind = name switch
        {
            "count" => MetricKind.Count,
            "unique_visitors" => MetricKind.UniqueVisitors,
            "unique_sessions" => MetricKind.UniqueSessions,
            "sum" => MetricKind.Sum,
            "avg" => MetricKind.Avg,
            _ => null,
        };
        if (kind is null) return false;
        var sumIndex = -1;
        if (kind is MetricKind.Sum or MetricKind.Avg)
        {
            sumIndex = aggregation.SumFields.ToList().FindIndex(f => f.Name == field);
            if (sumIndex < 0) return false;
        }
        else if (field.Length > 0) return false;
        metric = new MetricSelector(kind.Value, sumIndex);
        return true;
    }
}

public sealed record QueryDefinition(string Name, QueryKind Kind, AggregationDefinition Aggregation, MetricSelector Metric, FieldDefinition? Field);

public enum QueryKind { DateHistogram, Terms }

/// <summary>The validated, compiled configuration that the rest of Tally works from.</summary>
public sealed class TallySchema
{
    private static readonly Regex TypeName = new("^[a-z][a-z0-9_-]{0,62}$", RegexOptions.CultureInvariant);
    private static readonly Regex FieldName = new("^[a-z][a-z0-9_]{0,62}$", RegexOptions.CultureInvariant);
    private static readonly HashSet<string> ReservedFields = ["id", "type", "timestamp"];
    private static readonly HashSet<string> KnownSteps = ["filter", "robot-flag", "institution", "geo", "anonymize"];
    private static readonly HashSet<string> InstitutionIdNamespaces = ["ISNI", "ROR", "ISIL", "OCLC", "Proprietary"];
    private static readonly HashSet<string> DatabaseDataTypes = ["Database_Aggregated", "Database_AI", "Database_Full", "Database_Full_Item"];

    private TallySchema(TallyOptions options)
    {
        Options = options;
    }

    public TallyOptions Options { get; }
    public IReadOnlyDictionary<string, EventType> EventTypes { get; private set; } = new Dictionary<string, EventType>();
    public IReadOnlyDictionary<string, AggregationDefinition> Aggregations { get; private set; } = new Dictionary<string, AggregationDefinition>();
    public IReadOnlyDictionary<string, QueryDefinition> Queries { get; private set; } = new Dictionary<string, QueryDefinition>();
    public IReadOnlyDictionary<string, ApiRole> ApiKeys { get; private set; } = new Dictionary<string, ApiRole>();
    /// <summary>Configured institutions by customer id.</summary>
    public IReadOnlyDictionary<string, Institution> Institutions { get; private set; } = new Dictionary<string, Institution>();
    public IpRangeMap<Institution> InstitutionRanges { get; } = new();
    public IReadOnlyDictionary<string, DatabaseOptions> Databases { get; private set; } = new Dictionary<string, DatabaseOptions>();
    /// <summary>How referrers are keyed in metrics, knowing the site's own hosts.</summary>
    public Referrers Referrers { get; private set; } = new([]);

    /// <summary>Event types that take part in COUNTER metrics.</summary>
    public IEnumerable<EventType> CounterTypes => EventTypes.Values.Where(t => t.Counter != CounterRole.None);

    /// <summary>
    /// Whether events of this type may keep IP addresses outside the ip field their pipeline consumes:
    /// privacy.storeIpAddresses, or an anonymize step with keepIp. Elsewhere an address is dropped at the door and hidden on the way out.
    /// </summary>
    public bool KeepsIpAddresses(EventType type) => _ipKeepingTypes.Contains(type);

    private HashSet<EventType> _ipKeepingTypes = [];

    public IReadOnlyList<PipelineStepOptions> PipelineOf(EventType type) =>
        Options.EventTypes.First(t => t.Name == type.Name).Pipeline;

    public IEnumerable<AggregationDefinition> AggregationsOf(EventType type) =>
        Aggregations.Values.Where(a => a.EventType == type);

    /// <summary>Validates options and compiles them; throws <see cref="ConfigurationException"/> naming the first bad setting.</summary>
    public static TallySchema Compile(TallyOptions options)
    {
        var schema = new TallySchema(options);
        schema.EventTypes = CompileEventTypes(options.EventTypes);
        schema._ipKeepingTypes = schema.EventTypes.Values
            .Where(t => options.Privacy.StoreIpAddresses || schema.PipelineOf(t).Any(step => step is { Step: "anonymize", KeepIp: true }))
            .ToHashSet();
        schema.Aggregations = CompileAggregations(options.Aggregations, schema.EventTypes);
        schema.Queries = CompileQueries(options.Queries, schema.Aggregations);
        schema.ApiKeys = CompileApiKeys(options.ApiKeys);
        schema.CompileCounter(options.Counter);
        schema.Referrers = new Referrers(options.Referrers.OwnHosts);
        Require(options.Geo.Level is "country" or "city", "geo.level", $"'{options.Geo.Level}' is not one of country, city");
        Require(options.Ingest.MaxBodyBytes > 0, "ingest.maxBodyBytes", "must be positive");
        Require(options.Ingest.MaxEventsPerRequest > 0, "ingest.maxEventsPerRequest", "must be positive");
        Require(options.Ingest.MaxFutureSkewSeconds >= 0, "ingest.maxFutureSkewSeconds", "must not be negative");
        Require(options.Ingest.MaxValueLength > 0, "ingest.maxValueLength", "must be positive");
        Require(options.Ingest.MaxPropertyNameLength > 0, "ingest.maxPropertyNameLength", "must be positive");
        Require(options.Ingest.MaxPartitionsPerRequest > 0, "ingest.maxPartitionsPerRequest", "must be positive");
        Require(options.Ingest.EarliestDate.Year >= 1970, "ingest.earliestDate", "must not be before 1970-01-01");
        var limits = options.Limits;
        Require(limits.RawMaxDays is > 0 and <= 3660, "limits.rawMaxDays", "must be from 1 to 3660");
        Require(limits.StatsMaxDays > 0, "limits.statsMaxDays", "must be positive");
        Require(limits.SushiMaxMonths > 0, "limits.sushiMaxMonths", "must be positive");
        Require(limits.MaxAnswerRows > 0, "limits.maxAnswerRows", "must be positive");
        Require(limits.MaxJsonBodyBytes > 0, "limits.maxJsonBodyBytes", "must be positive");
        Require(limits.RequestTimeoutSeconds > 0, "limits.requestTimeoutSeconds", "must be positive");
        Require(limits.AnonymousRequestsPerMinute >= 0, "limits.anonymousRequestsPerMinute", "must not be negative (0 turns the limit off)");
        Require(options.Privacy.SaltRetentionDays >= 1, "privacy.saltRetentionDays", "must be at least 1");
        Require(options.Schedule.AggregateEverySeconds > 0, "schedule.aggregateEverySeconds", "must be positive");
        Require(options.Schedule.RetentionEverySeconds > 0, "schedule.retentionEverySeconds", "must be positive");
        if (options.Storage.Engine is { } engine)
        {
            Require(StoreLocation.Engines.Contains(engine), "storage.engine", $"'{engine}' is not one of {string.Join(", ", StoreLocation.Engines)}");
            Require(StoreLocation.IsEmbedded(engine) || !string.IsNullOrWhiteSpace(options.Storage.Connection), "storage.connection", $"is required for {engine}");
        }
        Require(options.Queue.Prefetch > 0, "queue.prefetch", "must be positive");
        return schema;
    }

    private static Dictionary<string, EventType> CompileEventTypes(List<EventTypeOptions> types)
    {
        Require(types.Count > 0, "eventTypes", "declare at least one event type");
        var result = new Dictionary<string, EventType>(StringComparer.Ordinal);
        for (var i = 0; i < types.Count; i++)
        {
            var t = types[i];
            var at = $"eventTypes[{i}]";
            Require(t is not null, at, NotNull);
            RequireNewTypeName(t.Name, result.Keys, $"{at}.name");
            var partition = CompileKeeping(t, at);
            var fields = CompileFields(t.Fields, at);
            var fieldsByName = fields.ToDictionary(f => f.Name);
            RequirePipelineFits(t.Pipeline, fieldsByName, at);
            var role = CompileCounterRole(t, fieldsByName, at);
            RequireTextFieldsAreStrings(t, role, fieldsByName, at);
            result.Add(t.Name, new EventType(t.Name, t.Enabled, fields, partition, t.RetentionDays, role));
        }
        return result;
    }

    private static void RequireNewTypeName(string name, IReadOnlyCollection<string> declared, string setting)
    {
        Require(TypeName.IsMatch(name), setting, $"'{name}' must be lower-case letters, digits, '-' or '_', starting with a letter");
        Require(!declared.Contains(name), setting, $"'{name}' is declared twice");
        RequireDistinctStorageName(name, declared, setting);
    }

    /// <summary>How the type's raw events are kept: the partition size, and for how long.</summary>
    private static Granularity CompileKeeping(EventTypeOptions type, string at)
    {
        Granularity partition;
        try { partition = GranularityExtensions.Parse(type.Partition); }
        catch (FormatException e) { throw new ConfigurationException($"{at}.partition", e.Message); }
        Require(type.RetentionDays is null or > 0, $"{at}.retentionDays", "must be positive, or omitted to keep events forever");
        return partition;
    }

    private static List<FieldDefinition> CompileFields(Dictionary<string, FieldOptions> declared, string at)
    {
        var fields = new List<FieldDefinition>();
        foreach (var (name, field) in declared)
        {
            var fieldAt = $"{at}.fields.{name}";
            Require(field is not null, fieldAt, NotNull);
            Require(FieldName.IsMatch(name), fieldAt, "field names are lower-case letters, digits and '_', starting with a letter");
            Require(!ReservedFields.Contains(name), fieldAt, $"'{name}' is reserved for the event envelope");
            var type = field.Type switch
            {
                "string" => FieldType.String,
                "integer" => FieldType.Integer,
                "number" => FieldType.Number,
                "boolean" => FieldType.Boolean,
                _ => throw new ConfigurationException($"{fieldAt}.type", $"'{field.Type}' is not one of string, integer, number, boolean"),
            };
            Require(field.Values is null || (type == FieldType.String && field.Values.Count > 0 && field.Values.All(v => v is not null)),
                $"{fieldAt}.values", "lists the allowed values of a string field: at least one, none null");
            fields.Add(new FieldDefinition(name, type, field.Required, fields.Count, field.Values?.ToFrozenSet(StringComparer.Ordinal)));
        }
        return fields;
    }

    /// <summary>Every step is known, and each finds the fields it reads and writes before an 'anonymize' drops them.</summary>
    private static void RequirePipelineFits(List<PipelineStepOptions> pipeline, Dictionary<string, FieldDefinition> fieldsByName, string at)
    {
        for (var s = 0; s < pipeline.Count; s++)
        {
            var step = pipeline[s];
            var stepAt = $"{at}.pipeline[{s}]";
            Require(step is not null, stepAt, NotNull);
            Require(KnownSteps.Contains(step.Step), $"{stepAt}.step", $"'{step.Step}' is not one of {string.Join(", ", KnownSteps)}");
            ValidateRegexes(step.Allow, $"{stepAt}.allow");
            ValidateRegexes(step.Deny, $"{stepAt}.deny");
            if (step.Step == "robot-flag")
                Require(!pipeline.Take(s).Any(p => p is { Step: "anonymize", KeepUserAgent: false }), $"{stepAt}.step", "'robot-flag' must come before 'anonymize', which drops the user_agent it judges");
            var writes = step.Step switch { "institution" => WellKnownFields.Institution, "geo" => WellKnownFields.Country, _ => null };
            if (writes is null) continue;
            Require(fieldsByName.GetValueOrDefault(writes)?.Type == FieldType.String, $"{stepAt}.step", $"'{step.Step}' needs a string field '{writes}' to write to");
            Require(fieldsByName.ContainsKey(WellKnownFields.Ip), $"{stepAt}.step", $"'{step.Step}' needs an '{WellKnownFields.Ip}' field to read from");
            Require(!pipeline.Take(s).Any(p => p is { Step: "anonymize", KeepIp: false }), $"{stepAt}.step", $"'{step.Step}' must come before 'anonymize', which drops the ip");
        }
    }

    /// <summary>The type's COUNTER role, and the item field and pipeline steps that role needs.</summary>
    private static CounterRole CompileCounterRole(EventTypeOptions type, Dictionary<string, FieldDefinition> fieldsByName, string at)
    {
        var role = type.Counter switch
        {
            "none" => CounterRole.None,
            "investigation" => CounterRole.Investigation,
            "request" => CounterRole.Request,
            "no_license" => CounterRole.NoLicense,
            "limit_exceeded" => CounterRole.LimitExceeded,
            "search" => CounterRole.Search,
            _ => throw new ConfigurationException($"{at}.counter", $"'{type.Counter}' is not one of investigation, request, no_license, limit_exceeded, search, none"),
        };
        Require(role is CounterRole.None or CounterRole.Search || fieldsByName.ContainsKey(WellKnownFields.ItemId), $"{at}.counter",
            $"a '{type.Counter}' type needs an '{WellKnownFields.ItemId}' field");
        // Without salted visitor and session ids every click would look like one user's: double-clicks and uniques would be wrong.
        Require(role == CounterRole.None || type.Pipeline.Any(p => p?.Step == "anonymize"), $"{at}.counter",
            "a COUNTER type needs an 'anonymize' step, which identifies users and sessions");
        Require(role == CounterRole.None || type.Pipeline.Any(p => p?.Step == "robot-flag"), $"{at}.counter",
            "a COUNTER type needs a 'robot-flag' step: COUNTER metrics must exclude robots (COUNTER's list is always among the robot lists)");
        return role;
    }

    /// <summary>Identity and COUNTER fields are read as text; declared with another type they would be silently ignored.</summary>
    private static void RequireTextFieldsAreStrings(EventTypeOptions type, CounterRole role, Dictionary<string, FieldDefinition> fieldsByName, string at)
    {
        var textFields = (role == CounterRole.None ? [] : WellKnownFields.Counter)
            .Concat(type.Pipeline.Any(p => p?.Step == "anonymize") ? WellKnownFields.Identity : []);
        foreach (var name in textFields)
            Require(fieldsByName.GetValueOrDefault(name) is not { } declared || declared.Type == FieldType.String, $"{at}.fields.{name}",
                $"must be a string, because {(WellKnownFields.Identity.Contains(name) ? "anonymize" : "COUNTER")} reads it as text");
    }

    private static Dictionary<string, AggregationDefinition> CompileAggregations(
        List<AggregationOptions> aggregations, IReadOnlyDictionary<string, EventType> types)
    {
        var result = new Dictionary<string, AggregationDefinition>(StringComparer.Ordinal);
        for (var i = 0; i < aggregations.Count; i++)
        {
            var a = aggregations[i];
            var at = $"aggregations[{i}]";
            Require(a is not null, at, NotNull);
            Require(FieldName.IsMatch(a.Name.Replace('-', '_')), $"{at}.name", $"'{a.Name}' must be lower-case letters, digits, '-' or '_'");
            Require(!result.ContainsKey(a.Name), $"{at}.name", $"'{a.Name}' is declared twice");
            RequireDistinctStorageName(a.Name, result.Keys, $"{at}.name");
            Require(types.TryGetValue(a.EventType, out var type), $"{at}.eventType", $"'{a.EventType}' is not a declared event type");
            var groupBy = a.GroupBy.Select((f, g) =>
                type!.Field(f ?? "") ?? throw new ConfigurationException($"{at}.groupBy[{g}]", $"'{f}' is not a field of '{type.Name}'")).ToList();
            Require(groupBy.Distinct().Count() == groupBy.Count, $"{at}.groupBy", "a field is listed twice");
            Require(groupBy.Count <= AggregationDefinition.MaxGroupBy, $"{at}.groupBy",
                $"has {groupBy.Count} fields; at most {AggregationDefinition.MaxGroupBy} may be listed, as metrics are kept for every combination of them");
            var sums = a.SumFields.Select((f, s) =>
            {
                var field = type!.Field(f ?? "") ?? throw new ConfigurationException($"{at}.sumFields[{s}]", $"'{f}' is not a field of '{type.Name}'");
                Require(field.Type is FieldType.Integer or FieldType.Number, $"{at}.sumFields[{s}]", $"'{f}' is not numeric");
                return field;
            }).ToList();
            var aggregation = new AggregationDefinition(a.Name, type!, groupBy, sums, a.IncludeRobots);
            if (a.Groupings is { } groupings)
            {
                var combinations = groupings.Select((combination, c) =>
                {
                    Require(combination is not null, $"{at}.groupings[{c}]", NotNull);
                    return combination!.Select((f, k) =>
                    {
                        Require(groupBy.Any(g => g.Name == f), $"{at}.groupings[{c}][{k}]", $"'{f}' is not one of the group-by fields: {string.Join(", ", groupBy.Select(g => g.Name))}");
                        return f;
                    }).Aggregate(0, (grouping, f) => grouping | 1 << aggregation.IndexOf(f));
                });
                aggregation = aggregation with { Groupings = AggregationDefinition.Within(combinations) };
            }
            result.Add(a.Name, aggregation);
        }
        return result;
    }

    private static Dictionary<string, QueryDefinition> CompileQueries(
        List<QueryOptions> queries, IReadOnlyDictionary<string, AggregationDefinition> aggregations)
    {
        var result = new Dictionary<string, QueryDefinition>(StringComparer.Ordinal);
        for (var i = 0; i < queries.Count; i++)
        {
            var q = queries[i];
            var at = $"queries[{i}]";
            Require(q is not null, at, NotNull);
            Require(TypeName.IsMatch(q.Name), $"{at}.name", $"'{q.Name}' must be lower-case letters, digits, '-' or '_'");
            Require(!result.ContainsKey(q.Name), $"{at}.name", $"'{q.Name}' is declared twice");
            var kind = q.Kind switch
            {
                "date-histogram" => QueryKind.DateHistogram,
                "terms" => QueryKind.Terms,
                _ => throw new ConfigurationException($"{at}.kind", $"'{q.Kind}' is not one of date-histogram, terms"),
            };
            Require(aggregations.TryGetValue(q.Aggregation, out var aggregation), $"{at}.aggregation", $"'{q.Aggregation}' is not a declared aggregation");
            Require(MetricSelector.TryParse(q.Metric, aggregation!, out var metric), $"{at}.metric",
                $"'{q.Metric}' is not count, unique_visitors, unique_sessions, or sum:/avg: of one of the aggregation's sumFields");
            FieldDefinition? field = null;
            if (kind == QueryKind.Terms || q.Field is not null)
            {
                field = aggregation!.GroupBy.FirstOrDefault(f => f.Name == q.Field);
                Require(field is not null, $"{at}.field", $"'{q.Field}' must be one of the aggregation's groupBy fields");
            }
            result.Add(q.Name, new QueryDefinition(q.Name, kind, aggregation!, metric, field));
        }
        return result;
    }

    private static Dictionary<string, ApiRole> CompileApiKeys(List<ApiKeyOptions> keys)
    {
        var result = new Dictionary<string, ApiRole>(StringComparer.Ordinal);
        for (var i = 0; i < keys.Count; i++)
        {
            var k = keys[i];
            Require(k is not null, $"apiKeys[{i}]", NotNull);
            Require(k.Key.Length >= 16, $"apiKeys[{i}].key", "keys must be at least 16 characters");
            Require(!result.ContainsKey(k.Key), $"apiKeys[{i}].key", "the same key is listed twice");
            result[k.Key] = k.Role switch
            {
                "write" => ApiRole.Write,
                "admin" => ApiRole.Admin,
                _ => throw new ConfigurationException($"apiKeys[{i}].role", $"'{k.Role}' is not one of write, admin"),
            };
        }
        return result;
    }

    private void CompileCounter(CounterOptions counter)
    {
        Require(counter.Platform.Length >= 2, "counter.platform", "must be at least 2 characters, as COUNTER requires");
        Require(ProprietaryNamespace.IsMatch(counter.PlatformId), "counter.platformId", "must be a letter followed by 1-17 letters, digits, '_', '.' or '/'");
        Require(counter.CreatedBy.Length >= 2, "counter.createdBy", "must be at least 2 characters");
        Require(counter.RegistryRecord is null || RegistryRecord.IsMatch(counter.RegistryRecord), "counter.registryRecord",
            "must be https://registry.projectcounter.org/platform/ followed by the platform's UUID");

        var institutions = new Dictionary<string, Institution>(StringComparer.Ordinal);
        for (var i = 0; i < counter.Institutions.Count; i++)
        {
            var o = counter.Institutions[i];
            var at = $"counter.institutions[{i}]";
            Require(o is not null, at, NotNull);
            Require(o.CustomerId.Length > 0, $"{at}.customerId", "is required");
            Require(o.CustomerId != Institution.TheWorld, $"{at}.customerId", $"'{Institution.TheWorld}' is COUNTER's id for all usage");
            Require(!institutions.ContainsKey(o.CustomerId), $"{at}.customerId", $"'{o.CustomerId}' is declared twice");
            Require(o.Name.Length >= 2, $"{at}.name", "must be at least 2 characters");
            foreach (var (ns, values) in o.Ids)
            {
                Require(InstitutionIdNamespaces.Contains(ns), $"{at}.ids.{ns}", $"is not one of {string.Join(", ", InstitutionIdNamespaces)}");
                Require(values is { Count: > 0 } && values.All(v => !string.IsNullOrWhiteSpace(v)), $"{at}.ids.{ns}", "lists at least one identifier, none empty");
            }
            var institution = new Institution(o.CustomerId, o.Name, o.Ids.ToDictionary(p => p.Key, p => (IReadOnlyList<string>)p.Value));
            for (var r = 0; r < o.IpRanges.Count; r++)
            {
                try { InstitutionRanges.Add(o.IpRanges[r] ?? "", institution); }
                catch (FormatException e) { throw new ConfigurationException($"{at}.ipRanges[{r}]", e.Message); }
            }
            institutions.Add(o.CustomerId, institution);
        }
        Institutions = institutions;

        for (var i = 0; i < counter.Credentials.Count; i++)
        {
            var c = counter.Credentials[i];
            var at = $"counter.credentials[{i}]";
            Require(c is not null, at, NotNull);
            Require(c.RequestorId.Length > 0, $"{at}.requestorId", "is required");
            Require(c.ApiKey.Length >= 16, $"{at}.apiKey", "keys must be at least 16 characters");
            for (var k = 0; k < c.Customers.Count; k++)
                Require(c.Customers[k] == Institution.TheWorld || institutions.ContainsKey(c.Customers[k] ?? ""), $"{at}.customers[{k}]",
                    $"'{c.Customers[k]}' is not a configured institution's customerId or '{Institution.TheWorld}'");
        }

        var databases = new Dictionary<string, DatabaseOptions>(StringComparer.Ordinal);
        for (var i = 0; i < counter.Databases.Count; i++)
        {
            var d = counter.Databases[i];
            var at = $"counter.databases[{i}]";
            Require(d is not null, at, NotNull);
            Require(d.Id.Length > 0, $"{at}.id", "is required");
            Require(!databases.ContainsKey(d.Id), $"{at}.id", $"'{d.Id}' is declared twice");
            Require(d.Name.Length >= 2, $"{at}.name", "must be at least 2 characters");
            Require(DatabaseDataTypes.Contains(d.DataType), $"{at}.dataType", $"'{d.DataType}' is not one of {string.Join(", ", DatabaseDataTypes)}");
            databases.Add(d.Id, d);
        }
        Databases = databases;
    }

    private static readonly Regex ProprietaryNamespace = new("^[a-zA-Z][a-zA-Z0-9_./]{1,17}$", RegexOptions.CultureInvariant);
    private static readonly Regex RegistryRecord = new("^https://registry.projectcounter.org/platform/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", RegexOptions.CultureInvariant);

    private static void ValidateRegexes(List<string> patterns, string at)
    {
        for (var i = 0; i < patterns.Count; i++)
        {
            try { _ = new Regex(patterns[i]); }
            catch (ArgumentException e) { throw new ConfigurationException($"{at}[{i}]", e.Message); }
        }
    }

    /// <summary>Stores turn '-' into '_' in table names, so "a-b" and "a_b" would share storage.</summary>
    private static void RequireDistinctStorageName(string name, IEnumerable<string> declared, string setting)
    {
        var alike = declared.FirstOrDefault(d => d.Replace('-', '_') == name.Replace('-', '_'));
        Require(alike is null, setting, $"'{name}' and '{alike}' differ only in '-' and '_', which storage names cannot tell apart");
    }

    private const string NotNull = "must not be null";

    private static void Require([System.Diagnostics.CodeAnalysis.DoesNotReturnIf(false)] bool condition, string setting, string problem)
    {
        if (!condition) throw new ConfigurationException(setting, problem);
    }
}
