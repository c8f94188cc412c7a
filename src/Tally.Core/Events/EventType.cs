namespace Tally.Core.Events;

public enum FieldType { String, Integer, Number, Boolean }

public sealed record FieldDefinition(string Name, FieldType Type, bool Required, int Ordinal);

/// <summary>A configured event type, compiled for fast per-event work.</summary>
public sealed class EventType
{
    private readonly Dictionary<string, FieldDefinition> _byName;

    public EventType(string name, bool enabled, IReadOnlyList<FieldDefinition> fields, Granularity partition, int? retentionDays)
    {
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

    internal Dictionary<string, FieldDefinition>.AlternateLookup<ReadOnlySpan<char>> FieldLookup { get; }

    public FieldDefinition? Field(string name) => _byName.GetValueOrDefault(name);

    /// <summary>The ordinal of a field, or -1 when this type does not declare it.</summary>
    public int OrdinalOf(string name) => _byName.TryGetValue(name, out var field) ? field.Ordinal : -1;
}

/// <summary>Names of the fields the built-in processors understand.</summary>
public static class WellKnownFields
{
    public const string ItemId = "item_id";
    public const string Ip = "ip";
    public const string UserAgent = "user_agent";
    public const string UserId = "user_id";
    public const string SessionId = "session_id";
}
