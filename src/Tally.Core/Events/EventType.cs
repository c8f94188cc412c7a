using System.Collections.Frozen;

namespace Tally.Core.Events;

public enum FieldType { String, Integer, Number, Boolean }

/// <summary>
/// What an event of a type means to COUNTER. A request (viewing or downloading the full item) also
/// counts as an investigation; no_license and limit_exceeded are access denials.
/// </summary>
public enum CounterRole { None, Investigation, Request, NoLicense, LimitExceeded, Search }

/// <summary>A declared field. <see cref="AllowedValues"/>, when set, lists every value a string field may take.</summary>
public sealed record FieldDefinition(string Name, FieldType Type, bool Required, int Ordinal, FrozenSet<string>? AllowedValues = null);

/// <summary>A configured event type, compiled for fast per-event work.</summary>
public sealed class EventType
{
    private readonly Dictionary<string, FieldDefinition> _byName;

    public EventType(string name, bool enabled, IReadOnlyList<FieldDefinition> fields, Granularity partition, int? retentionDays, CounterRole counter = CounterRole.None)
    {
        Counter = counter;
        Name = name;
        Enabled = enabled;
        Fields = fields;
        Partition = partition;
        RetentionDays = retentionDays;
        _byName = fields.ToDictionary(f => f.Name, StringComparer.Ordinal);
        // Lookups keyed by UTF-8 bytes let the parser match property names without allocating strings.
        FieldLookup = _byName.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public string Name { get; }
    public bool Enabled { get; }
    public IReadOnlyList<FieldDefinition> Fields { get; }
    public Granularity Partition { get; }
    public int? RetentionDays { get; }
    public CounterRole Counter { get; }

    internal Dictionary<string, FieldDefinition>.AlternateLookup<ReadOnlySpan<char>> FieldLookup { get; }

    public FieldDefinition? Field(string name) => _byName.GetValueOrDefault(name);

    /// <summary>The ordinal of a field, or -1 when this type does not declare it.</summary>
    public int OrdinalOf(string name) => _byName.TryGetValue(name, out var field) ? field.Ordinal : -1;
}

/// <summary>Names of the fields the built-in processors understand.</summary>
public static class WellKnownFields
{
    /// <summary>Names that say "who": raw identities, dropped wherever a type does not anonymize them.</summary>
    public static bool IsIdentity(ReadOnlySpan<char> name) =>
        name.Equals(Ip, StringComparison.OrdinalIgnoreCase) || name.Equals(UserAgent, StringComparison.OrdinalIgnoreCase)
        || name.Equals(UserId, StringComparison.OrdinalIgnoreCase) || name.Equals(SessionId, StringComparison.OrdinalIgnoreCase)
        || name.Equals("ip_address", StringComparison.OrdinalIgnoreCase) || name.Equals("remote_addr", StringComparison.OrdinalIgnoreCase)
        || name.Equals("client_ip", StringComparison.OrdinalIgnoreCase);

    public const string ItemId = "item_id";
    public const string Ip = "ip";
    public const string UserAgent = "user_agent";
    public const string UserId = "user_id";
    public const string SessionId = "session_id";
    public const string TitleId = "title_id";
    public const string DatabaseId = "database_id";
    public const string Url = "url";
    public const string Referrer = "referrer";
    public const string Format = "format";
    public const string AccessType = "access_type";
    public const string AccessMethod = "access_method";
    public const string SearchType = "search_type";
    public const string Institution = "institution";
    public const string Country = "country";
    public const string Region = "region";
    public const string City = "city";

    /// <summary>Fields anonymize reads as text.</summary>
    public static readonly string[] Identity = [UserId, SessionId, Ip, UserAgent];

    /// <summary>Fields COUNTER metrics read as text.</summary>
    public static readonly string[] Counter =
        [ItemId, TitleId, DatabaseId, Url, Format, AccessType, AccessMethod, SearchType, Institution, Country, Region];
}
