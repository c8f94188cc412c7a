namespace Tally.Core.Configuration;

/// <summary>The whole configuration, as read from tally.json or the "Tally" section of appsettings.</summary>
public sealed class TallyOptions
{
    public List<EventTypeOptions> EventTypes { get; set; } = [];
    public List<AggregationOptions> Aggregations { get; set; } = [];
    public List<QueryOptions> Queries { get; set; } = [];
    public List<ApiKeyOptions> ApiKeys { get; set; } = [];
    public IngestOptions Ingest { get; set; } = new();
    public LimitsOptions Limits { get; set; } = new();
    public PrivacyOptions Privacy { get; set; } = new();
    public RobotOptions Robots { get; set; } = new();
    public ReferrerOptions Referrers { get; set; } = new();
    public ScheduleOptions Schedule { get; set; } = new();
    public CounterOptions Counter { get; set; } = new();
    public GeoOptions Geo { get; set; } = new();
    public SourcesOptions Sources { get; set; } = new();
    public StorageOptions Storage { get; set; } = new();
    public QueueOptions Queue { get; set; } = new();
}

public sealed class EventTypeOptions
{
    public string Name { get; set; } = "";
    public bool Enabled { get; set; } = true;
    public Dictionary<string, FieldOptions> Fields { get; set; } = [];
    /// <summary>year, month, day or hour.</summary>
    public string Partition { get; set; } = "month";
    /// <summary>How long raw events are kept, in days; null keeps them forever.</summary>
    public int? RetentionDays { get; set; }
    /// <summary>Processing steps, run in order before storage.</summary>
    public List<PipelineStepOptions> Pipeline { get; set; } = [];
    /// <summary>The type's COUNTER role: investigation, request, no_license, limit_exceeded, search or none.</summary>
    public string Counter { get; set; } = "none";
}

public sealed class FieldOptions
{
    /// <summary>string, integer, number or boolean.</summary>
    public string Type { get; set; } = "string";
    public bool Required { get; set; }
    /// <summary>string fields: the only values allowed, compared exactly; null allows any.</summary>
    public List<string>? Values { get; set; }
}

public sealed class PipelineStepOptions
{
    /// <summary>filter, robot-flag, institution, geo or anonymize.</summary>
    public string Step { get; set; } = "";
    /// <summary>filter: type-name regexes that may pass (empty lets all pass).</summary>
    public List<string> Allow { get; set; } = [];
    /// <summary>filter: type-name regexes that are dropped.</summary>
    public List<string> Deny { get; set; } = [];
    /// <summary>anonymize: keep the raw ip field.</summary>
    public bool KeepIp { get; set; }
    /// <summary>anonymize: keep the raw user_agent field.</summary>
    public bool KeepUserAgent { get; set; }
}

public sealed class AggregationOptions
{
    public string Name { get; set; } = "";
    public string EventType { get; set; } = "";
    public List<string> GroupBy { get; set; } = [];
    /// <summary>Numeric fields whose sum and average are kept.</summary>
    public List<string> SumFields { get; set; } = [];
    public bool IncludeRobots { get; set; }
    /// <summary>
    /// The combinations of group-by fields whose metrics are kept, each with every combination inside it; null keeps
    /// every combination. Each one costs about one pass over the events at aggregation, and one that holds an item id
    /// writes nearly a row per event.
    /// </summary>
    public List<List<string>>? Groupings { get; set; }
}

public sealed class QueryOptions
{
    public string Name { get; set; } = "";
    /// <summary>date-histogram or terms.</summary>
    public string Kind { get; set; } = "date-histogram";
    public string Aggregation { get; set; } = "";
    /// <summary>count, unique_visitors, unique_sessions, sum:FIELD or avg:FIELD.</summary>
    public string Metric { get; set; } = "count";
    /// <summary>terms: the group-by field whose values become buckets.</summary>
    public string? Field { get; set; }
}

public sealed class ApiKeyOptions
{
    public string Name { get; set; } = "";
    public string Key { get; set; } = "";
    /// <summary>write or admin (admin may also write).</summary>
    public string Role { get; set; } = "write";
}

public sealed class IngestOptions
{
    public int MaxBodyBytes { get; set; } = 16 * 1024 * 1024;
    public int MaxEventsPerRequest { get; set; } = 100_000;
    /// <summary>How far in the future a timestamp may lie before it is rejected (clock skew).</summary>
    public int MaxFutureSkewSeconds { get; set; } = 300;
    /// <summary>The earliest timestamp accepted; queries cannot reach before it either, so no store ever holds or scans an absurd period.</summary>
    public DateOnly EarliestDate { get; set; } = new(1990, 1, 1);
    /// <summary>The longest text value of any field, declared or not (URLs, user agents, names), in characters.</summary>
    public int MaxValueLength { get; set; } = 4096;
    /// <summary>The longest property name of an undeclared field.</summary>
    public int MaxPropertyNameLength { get; set; } = 128;
    /// <summary>Distinct storage partitions one request may write to; events beyond are rejected, so one request cannot scatter data over centuries.</summary>
    public int MaxPartitionsPerRequest { get; set; } = 64;
}

/// <summary>
/// Bounds on the work one read request may cause. Each is checked before any work starts, so a request
/// outside them gets a 4xx naming the parameter and the setting, never a slow or huge answer.
/// </summary>
public sealed class LimitsOptions
{
    /// <summary>The widest start..end window of the raw events API.</summary>
    public int RawMaxDays { get; set; } = 366;
    /// <summary>The widest dateStart..dateEnd range of stats, timelines and saved-query results.</summary>
    public int StatsMaxDays { get; set; } = 3660;
    /// <summary>The most months one COUNTER report may span; wider requests get COUNTER exception 3020.</summary>
    public int SushiMaxMonths { get; set; } = 60;
    /// <summary>The most metric rows one answer may be built from; a report needing more must be narrowed.</summary>
    public int MaxAnswerRows { get; set; } = 250_000;
    /// <summary>The largest JSON body of the non-ingest endpoints (stats, items, saved queries).</summary>
    public int MaxJsonBodyBytes { get; set; } = 1024 * 1024;
    /// <summary>The time a request may work before it is stopped with 503; the live stream is exempt.</summary>
    public int RequestTimeoutSeconds { get; set; } = 30;
    /// <summary>Requests per minute one client address may make without an API key; 0 turns the limit off.</summary>
    public int AnonymousRequestsPerMinute { get; set; } = 1200;
}

public sealed class PrivacyOptions
{
    /// <summary>
    /// A day's salt is deleted once it has not been used for this many days, after which that day's visitor
    /// ids can no longer be recomputed. Counted from its last use, so a late log for a past day, weeks
    /// later, still gets the same visitor ids; it should cover how late data for a day can arrive.
    /// </summary>
    public int SaltRetentionDays { get; set; } = 35;
    /// <summary>
    /// Keep IP addresses and raw identities (ip, user_agent, user_id, session_id) in every event type. Off by
    /// default: types without an anonymize step drop them, and addresses in any other field are dropped too.
    /// </summary>
    public bool StoreIpAddresses { get; set; }
}

public sealed class RobotOptions
{
    /// <summary>Robot lists (COUNTER-Robots JSON or one regex per line). Empty uses the built-in list.</summary>
    public List<string> Lists { get; set; } = [];
}

public sealed class ReferrerOptions
{
    /// <summary>
    /// Host names of the site Tally counts for ("example.org" covers www.example.org too; "*.example.org" covers
    /// example.org and its subdomains). A referrer on one of them is internal navigation and is not counted as a referrer.
    /// </summary>
    public List<string> OwnHosts { get; set; } = [];
}

public sealed class ScheduleOptions
{
    public int AggregateEverySeconds { get; set; } = 60;
    public int RetentionEverySeconds { get; set; } = 3600;
}

/// <summary>How Tally presents itself in COUNTER reports, who may fetch them, and for whom.</summary>
public sealed class CounterOptions
{
    /// <summary>The platform name reports show, and the namespace of proprietary ids.</summary>
    public string Platform { get; set; } = "Tally";
    public string PlatformId { get; set; } = "tally";
    public string CreatedBy { get; set; } = "Tally";
    /// <summary>The platform's COUNTER Registry record URL, if it has one.</summary>
    public string? RegistryRecord { get; set; }
    /// <summary>The publisher reports show when an item's metadata names none.</summary>
    public string Publisher { get; set; } = "";
    /// <summary>Who may call /r51: requestor id and API key pairs. Empty leaves the API open.</summary>
    public List<SushiCredentialOptions> Credentials { get; set; } = [];
    public List<InstitutionOptions> Institutions { get; set; } = [];
    public List<DatabaseOptions> Databases { get; set; } = [];
}

public sealed class SushiCredentialOptions
{
    public string RequestorId { get; set; } = "";
    public string ApiKey { get; set; } = "";
    /// <summary>Customer ids this requestor may see; empty means all, including "The World".</summary>
    public List<string> Customers { get; set; } = [];
}

public sealed class InstitutionOptions
{
    /// <summary>The customer_id SUSHI clients send for this institution.</summary>
    public string CustomerId { get; set; } = "";
    public string Name { get; set; } = "";
    /// <summary>Identifiers by namespace, as COUNTER's Institution_ID: ISNI, ROR, ISIL, OCLC or Proprietary.</summary>
    public Dictionary<string, List<string>> Ids { get; set; } = [];
    /// <summary>IPv4 and IPv6 addresses or CIDR ranges ("192.0.2.0/24", "2001:db8::/32", "198.51.100.7").</summary>
    public List<string> IpRanges { get; set; } = [];
}

public sealed class DatabaseOptions
{
    /// <summary>The value events carry in database_id.</summary>
    public string Id { get; set; } = "";
    public string Name { get; set; } = "";
    public string? Publisher { get; set; }
    /// <summary>Database_Aggregated, Database_AI, Database_Full or Database_Full_Item.</summary>
    public string DataType { get; set; } = "Database_Full";
}

public sealed class GeoOptions
{
    /// <summary>A MaxMind-format .mmdb file; empty uses the built-in country database.</summary>
    public string? Database { get; set; }
    /// <summary>country, or city to also keep region and city when the database has them.</summary>
    public string Level { get; set; } = "country";
}

/// <summary>Routes into Tally besides HTTP: log files and the message bus.</summary>
public sealed class SourcesOptions
{
    public PkpSourceOptions Pkp { get; set; } = new();
    /// <summary>Rules that turn Apache/Nginx access-log requests into events; the first matching rule wins.</summary>
    public List<UrlRuleOptions> AccessLogRules { get; set; } = [];
    public AmqpSourceOptions Amqp { get; set; } = new();
}

/// <summary>PKP (OJS, OMP, OPS) usage-event logs, loaded as PKP's UsageStatsLoader does.</summary>
public sealed class PkpSourceOptions
{
    /// <summary>PKP's usageStats folder (holding usageEventLogs, stage, processing, archive, reject); serve loads it on a schedule when set.</summary>
    public string? Directory { get; set; }
    /// <summary>ojs, omp or ops: decides what an item's title is (the journal or server, or the book).</summary>
    public string Application { get; set; } = "ojs";
    /// <summary>The time zone PKP wrote "time" in (PHP's date.timezone); an IANA name such as Europe/Berlin.</summary>
    public string TimeZone { get; set; } = "UTC";
    public int LoadEverySeconds { get; set; } = 3600;
    /// <summary>Tally event type for each kind of page PKP logs: context, submission, submissionFile, supplementaryFile, issue, issueGalley, chapter, series.</summary>
    public Dictionary<string, string> Types { get; set; } = [];
    /// <summary>PKP institution ids mapped to COUNTER customer ids; unmapped ids are kept as "pkp-institution-N".</summary>
    public Dictionary<string, string> Institutions { get; set; } = [];
}

public sealed class UrlRuleOptions
{
    /// <summary>A regex over the request path and query; named groups fill fields of the same name (item_id, format, ...).</summary>
    public string Pattern { get; set; } = "";
    public string Type { get; set; } = "";
    /// <summary>HTTP methods that count; default GET only, as a HEAD transfers nothing.</summary>
    public List<string> Methods { get; set; } = ["GET"];
    /// <summary>Fixed field values every event of this rule gets, such as format or access_type.</summary>
    public Dictionary<string, string> Set { get; set; } = [];
}

/// <summary>RabbitMQ: every message of the queues is stored, as datanommer does, and mapped topics also become events.</summary>
public sealed class AmqpSourceOptions
{
    /// <summary>amqp://user:password@host:port/vhost; serve consumes only when set.</summary>
    public string? Uri { get; set; }
    public List<AmqpQueueOptions> Queues { get; set; } = [];
    /// <summary>Topic patterns (AMQP syntax: * one word, # zero or more) whose message body is a Tally event of the given type.</summary>
    public List<TopicRuleOptions> Topics { get; set; } = [];
    /// <summary>The event type bus messages are stored as.</summary>
    public string MessageType { get; set; } = "message";
    /// <summary>The topic segment (from 0) that names the category; datanommer uses 3, as in org.fedoraproject.prod.bodhi.update.</summary>
    public int CategorySegment { get; set; } = 3;
    /// <summary>Unacknowledged messages a consumer holds at once; they are committed together.</summary>
    public ushort Prefetch { get; set; } = 500;
}

public sealed class AmqpQueueOptions
{
    public string Name { get; set; } = "";
    public string Exchange { get; set; } = "amq.topic";
    /// <summary>Binding keys; default all topics.</summary>
    public List<string> Bindings { get; set; } = ["#"];
}

public sealed class TopicRuleOptions
{
    public string Topic { get; set; } = "";
    public string Type { get; set; } = "";
}

/// <summary>Where raw events, metrics and bookmarks live.</summary>
public sealed class StorageOptions
{
    /// <summary>
    /// duckdb or sqlite (embedded, in the data folder), postgres or clickhouse. Unset: duckdb, or sqlite for a data folder
    /// that holds a SQLite store and no DuckDB one (a site from before DuckDB was the default; tally migrate moves it).
    /// </summary>
    public string? Engine { get; set; }
    /// <summary>
    /// duckdb, sqlite: the data folder (default --data); postgres: an Npgsql connection string;
    /// clickhouse: http://host:8123/?database=tally, plus &amp;cluster=NAME&amp;shards=host:port,host:port for a Distributed table.
    /// </summary>
    public string? Connection { get; set; }
    /// <summary>
    /// duckdb: the most memory DuckDB keeps for its data (its memory_limit, such as 512MB or 2GB), beyond which it writes
    /// to a temporary folder beside the store. Empty (the default): 1 GiB, or half the memory Tally may use if that is
    /// less. Less than about 256MB slows aggregation and can make it fail for want of memory; more helps aggregations
    /// of hundreds of millions of events (docs/benchmarks.md).
    /// </summary>
    public string MemoryLimit { get; set; } = "";
}

/// <summary>The RabbitMQ queue between ingest nodes and workers when Tally runs scaled out (serve --role).</summary>
public sealed class QueueOptions
{
    /// <summary>amqp://user:password@host:port/vhost; needed by --role ingest and worker.</summary>
    public string? Uri { get; set; }
    /// <summary>The durable direct exchange ingest nodes publish to.</summary>
    public string Exchange { get; set; } = "tally";
    /// <summary>The durable queue workers share (competing consumers).</summary>
    public string Name { get; set; } = "tally.events";
    /// <summary>Unacknowledged messages (accepted requests) a worker holds at once; they are committed together.</summary>
    public ushort Prefetch { get; set; } = 64;
}
