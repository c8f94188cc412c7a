using System.Text.Json;
using System.Text.Json.Serialization;
using Tally.Core.Configuration;
using Tally.Core.Events;

namespace Tally.Core.Store;

/// <summary>What a store records of an event type it was set up for: its partition granularity and its fields' types.</summary>
public sealed record TypeTemplate(string Granularity, IReadOnlyDictionary<string, string> Fields)
{
    public static TypeTemplate Of(EventType type) => new(type.Partition.Name(), type.Fields.ToDictionary(f => f.Name, f => f.Type.ToString()));

    /// <summary>The fields as stores keep them: a JSON object of field name to type.</summary>
    public string FieldsJson => JsonSerializer.Serialize(Fields);

    public static TypeTemplate Read(string granularity, string fieldsJson) =>
        new(granularity, JsonSerializer.Deserialize<Dictionary<string, string>>(fieldsJson)!);
}

/// <summary>
/// The rules, the same for every engine, that compare what a store was set up for with the
/// configuration: which changes setup refuses, and what check reports. A store only reads and
/// writes its templates and signatures, and adds what it finds missing in its own tables.
/// </summary>
public static class StorageTemplates
{
    /// <summary>What an aggregation's metric tables' shape and contents depend on; when it changes, setup rebuilds them.</summary>
    public static string AggregationSignature(AggregationDefinition a) => JsonSerializer.Serialize(new
    {
        // Metric tables made before rows were kept at every grouping are rebuilt.
        layout = "groupings",
        type = a.EventType.Name,
        groupBy = a.GroupBy.Select(f => f.Name),
        sumFields = a.SumFields.Select(f => f.Name),
        includeRobots = a.IncludeRobots,
        // Left out for the full cube, so that stores set up before groupings could be chosen keep their metrics.
        groupings = a.KeepsEveryGrouping ? null : a.Groupings,
    }, SignatureOptions);

    private static readonly JsonSerializerOptions SignatureOptions = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    /// <summary>Refuses, before setup changes anything, a configuration that would misread stored events.</summary>
    /// <param name="hasPartitions">Whether the type has stored partitions (without them a new granularity is harmless).</param>
    /// <exception cref="InvalidOperationException">The granularity of stored partitions, or a stored field's type, changed.</exception>
    public static void RequireCompatible(EventType type, TypeTemplate? stored, bool hasPartitions)
    {
        if (stored is null) return;
        if (stored.Granularity != type.Partition.Name() && hasPartitions)
            throw new InvalidOperationException(
                $"Event type '{type.Name}' is stored in {stored.Granularity} partitions but configured as {type.Partition.Name()}; " +
                "revert eventTypes.partition or migrate the data first.");
        foreach (var field in type.Fields)
        {
            if (stored.Fields.GetValueOrDefault(field.Name) is { } was && was != field.Type.ToString())
                throw new InvalidOperationException(
                    $"Field '{type.Name}.{field.Name}' is stored as {was.ToLowerInvariant()} but configured as {field.Type.ToString().ToLowerInvariant()}; revert the field type or use a new field name.");
        }
    }

    /// <summary>Check's lines about types and aggregations, one readable line each; empty when templates and configuration agree.</summary>
    public static List<string> Differences(TallySchema schema, IReadOnlyDictionary<string, TypeTemplate> types, IReadOnlyDictionary<string, string> signatures)
    {
        var differences = new List<string>();
        foreach (var type in schema.EventTypes.Values)
        {
            if (types.GetValueOrDefault(type.Name) is not { } stored)
            {
                differences.Add($"event type '{type.Name}' is configured but not set up");
                continue;
            }
            if (stored.Granularity != type.Partition.Name())
                differences.Add($"event type '{type.Name}': storage is partitioned by {stored.Granularity}, configuration says {type.Partition.Name()}");
            foreach (var field in type.Fields)
            {
                if (!stored.Fields.TryGetValue(field.Name, out var was))
                    differences.Add($"event type '{type.Name}': field '{field.Name}' is configured but not set up");
                else if (was != field.Type.ToString())
                    differences.Add($"event type '{type.Name}': field '{field.Name}' is stored as {was.ToLowerInvariant()}, configured as {field.Type.ToString().ToLowerInvariant()}");
            }
        }
        foreach (var type in types.Keys.Where(t => !schema.EventTypes.ContainsKey(t)).Order(StringComparer.Ordinal))
            differences.Add($"event type '{type}' is stored but no longer configured");
        foreach (var aggregation in schema.Aggregations.Values)
        {
            var stored = signatures.GetValueOrDefault(aggregation.Name);
            if (stored is null) differences.Add($"aggregation '{aggregation.Name}' is configured but not set up");
            else if (stored != AggregationSignature(aggregation)) differences.Add($"aggregation '{aggregation.Name}' changed since setup; setup will rebuild its metrics");
        }
        return differences;
    }
}
