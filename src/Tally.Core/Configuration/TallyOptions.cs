namespace Tally.Core.Configuration;

/// <summary>The whole configuration, as read from tally.json or the "Tally" section of appsettings.</summary>
public sealed class TallyOptions
{
    public List<EventTypeOptions> EventTypes { get; set; } = [];
    public List<AggregationOptions> Aggregations { get; set; } = [];
    public List<QueryOptions> Queries { get; set; } = [];
    public List<ApiKeyOptions> ApiKeys { get; set; } = [];
    public IngestOptions Ingest { get; set; } = new();
    public PrivacyOptions Privacy { get; set; } = new();
    public RobotOptions Robots { get; set; } = new();
    public ScheduleOptions Schedule { get; set; } = new();
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
}

public sealed class FieldOptions
{
    /// <summary>string, integer, number or boolean.</summary>
    public string Type { get; set; } = "string";
    public bool Required { get; set; }
}

public sealed class PipelineStepOptions
{
    /// <summary>filter, robot-flag or anonymize.</summary>
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
}

public sealed class PrivacyOptions
{
    /// <summary>Salts older than this are deleted, so old visitor ids can no longer be recomputed.</summary>
    public int SaltRetentionDays { get; set; } = 7;
}

public sealed class RobotOptions
{
    /// <summary>Robot lists (COUNTER-Robots JSON or one regex per line). Empty uses the built-in list.</summary>
    public List<string> Lists { get; set; } = [];
}

public sealed class ScheduleOptions
{
    public int AggregateEverySeconds { get; set; } = 60;
    public int RetentionEverySeconds { get; set; } = 3600;
}
