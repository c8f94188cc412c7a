namespace Tally.Geo;

/// <summary>What a MaxMind DB says about itself: the map stored after the "\xAB\xCD\xEFMaxMind.com" marker.</summary>
public sealed class MaxMindMetadata
{
    /// <summary>Nodes in the search tree.</summary>
    public required uint NodeCount { get; init; }

    /// <summary>Bits per search-tree record: 24, 28 or 32 (a node is two records).</summary>
    public required int RecordSize { get; init; }

    /// <summary>4 for an IPv4 tree (32 levels), 6 for an IPv6 tree (128 levels, IPv4 under ::/96).</summary>
    public required int IPVersion { get; init; }

    /// <summary>What the records hold, e.g. "GeoLite2-City"; chosen by the database's creator.</summary>
    public required string DatabaseType { get; init; }

    /// <summary>Locales the records may have localized names in (optional in the format; empty when absent).</summary>
    public required IReadOnlyList<string> Languages { get; init; }

    public required int BinaryFormatMajorVersion { get; init; }

    public required int BinaryFormatMinorVersion { get; init; }

    /// <summary>Build time, seconds since the Unix epoch.</summary>
    public required ulong BuildEpoch { get; init; }

    /// <summary>Descriptions by language code (optional in the format; empty when absent).</summary>
    public required IReadOnlyDictionary<string, string> Description { get; init; }

    /// <summary><see cref="BuildEpoch"/> as a time.</summary>
    public DateTimeOffset BuildTime => DateTimeOffset.FromUnixTimeSeconds((long)Math.Min(BuildEpoch, 253_402_300_799UL));

    /// <summary>Bytes of the search tree: two records per node.</summary>
    public long SearchTreeSize => (long)NodeCount * RecordSize / 4;

    internal static MaxMindMetadata Read(MmdbSection section)
    {
        var pos = section.Start;
        if (section.Decode(ref pos) is not Dictionary<string, object?> map)
            throw section.Error("the metadata is not a map");

        var major = (int)Unsigned(section, map, "binary_format_major_version", ushort.MaxValue);
        if (major != 2) throw section.Error($"binary format major version {major} is not supported (only 2 is)");
        var recordSize = (int)Unsigned(section, map, "record_size", ushort.MaxValue);
        if (recordSize is not (24 or 28 or 32))
            throw section.Error($"record size {recordSize} is not supported (24, 28 or 32 bits)");
        var ipVersion = (int)Unsigned(section, map, "ip_version", ushort.MaxValue);
        if (ipVersion is not (4 or 6)) throw section.Error($"ip_version {ipVersion} is neither 4 nor 6");
        var nodeCount = (uint)Unsigned(section, map, "node_count", uint.MaxValue);
        if (nodeCount == 0) throw section.Error("node_count is 0: the search tree is empty");
        if (recordSize < 32 && nodeCount >= 1u << recordSize)
            throw section.Error($"node_count {nodeCount} does not fit in {recordSize}-bit records");
        if (!map.TryGetValue("database_type", out var type) || type is not string databaseType)
            throw section.Error("metadata key 'database_type' is missing or not a string");

        return new MaxMindMetadata
        {
            NodeCount = nodeCount,
            RecordSize = recordSize,
            IPVersion = ipVersion,
            DatabaseType = databaseType,
            Languages = map.GetValueOrDefault("languages") is List<object?> languages ? languages.OfType<string>().ToArray() : [],
            BinaryFormatMajorVersion = major,
            BinaryFormatMinorVersion = map.ContainsKey("binary_format_minor_version")
                ? (int)Unsigned(section, map, "binary_format_minor_version", ushort.MaxValue) : 0,
            BuildEpoch = map.ContainsKey("build_epoch") ? Unsigned(section, map, "build_epoch", ulong.MaxValue) : 0,
            Description = map.GetValueOrDefault("description") is Dictionary<string, object?> description
                ? description.Where(d => d.Value is string).ToDictionary(d => d.Key, d => (string)d.Value!, StringComparer.Ordinal)
                : new Dictionary<string, string>(StringComparer.Ordinal),
        };
    }

    /// <summary>A required unsigned key; writers differ in the integer width they pick, so any unsigned type is taken.</summary>
    private static ulong Unsigned(MmdbSection section, Dictionary<string, object?> map, string key, ulong max)
    {
        if (!map.TryGetValue(key, out var raw)) throw section.Error($"metadata key '{key}' is missing");
        ulong? value = raw switch
        {
            ushort v => v,
            uint v => v,
            ulong v => v,
            int v and >= 0 => (ulong)v,
            UInt128 v when v <= ulong.MaxValue => (ulong)v,
            _ => null,
        };
        if (value is not { } number) throw section.Error($"metadata key '{key}' is {Describe(raw)}, not an unsigned integer");
        if (number > max) throw section.Error($"metadata key '{key}' is {number}, more than {max}");
        return number;
    }

    private static string Describe(object? value) => value is null ? "null" : value.GetType().Name;
}
