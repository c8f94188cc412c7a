using System.Net;
using static Tally.Geo.Tests.GeoTestKit;

namespace Tally.Geo.Tests;

/// <summary>Broken input gives InvalidDatabaseException naming the file and the problem, never an index or null error.</summary>
public sealed class CorruptDatabaseTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tally-geo-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string WriteFile(string name, byte[] bytes)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private InvalidDatabaseException OpenFails(string name, byte[] bytes, string problem)
    {
        var path = WriteFile(name, bytes);
        var error = Assert.Throws<InvalidDatabaseException>(() => MaxMindDatabase.Open(path));
        Assert.Equal(path, error.DatabaseName);
        Assert.StartsWith(path + ": ", error.Message, StringComparison.Ordinal);
        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
        return error;
    }

    [Fact]
    public void Empty_file() => OpenFails("empty.mmdb", [], "empty");

    [Fact]
    public void Random_bytes() => OpenFails("random.mmdb", RandomBytes(100_000, seed: 1), "no metadata marker");

    [Fact]
    public void A_text_file() => OpenFails("text.mmdb", "country_code,start,end\nUS,1,2\n"u8.ToArray(), "not a MaxMind DB");

    [Fact]
    public void A_missing_file_is_an_IO_error() =>
        Assert.Throws<FileNotFoundException>(() => MaxMindDatabase.Open(Path.Combine(_dir, "missing.mmdb")));

    [Fact]
    public void Real_database_cut_in_half_has_no_metadata()
    {
        var real = File.ReadAllBytes(NpmCountryDatabasePath);
        OpenFails("half.mmdb", real[..(real.Length / 2)], "no metadata marker");
    }

    [Fact]
    public void Real_database_with_its_tree_cut_short()
    {
        // Keep the metadata but drop most of the tree and the data: node_count no longer fits.
        var real = File.ReadAllBytes(NpmCountryDatabasePath);
        var metadata = real.AsSpan().LastIndexOf(MaxMindDatabase.MetadataMarker);
        OpenFails("cut.mmdb", [.. real[..1_000_000], .. real[metadata..]], "truncated or corrupt");
    }

    [Fact]
    public void Real_database_missing_its_last_bytes()
    {
        // Cutting into the metadata map leaves a marker followed by a map that runs past the end.
        var real = File.ReadAllBytes(NpmCountryDatabasePath);
        OpenFails("short.mmdb", real[..^20], "runs past the end of the metadata");
    }

    [Fact]
    public void Data_section_cut_short_is_found_at_lookup()
    {
        var writer = new MmdbWriter(4, 24);
        writer.Insert("1.0.0.0/8", Map(("a", "first")));
        writer.Insert("2.0.0.0/8", Map(("b", new string('x', 500))));
        var bytes = writer.Build();
        // Remove the tail of the data section (the long string), keeping the metadata.
        var marker = bytes.AsSpan().LastIndexOf(MaxMindDatabase.MetadataMarker);
        var db = MaxMindDatabase.FromBytes([.. bytes[..(marker - 400)], .. bytes[marker..]], "cut-data.mmdb");
        Assert.Equal("first", db.Find(IPAddress.Parse("1.1.1.1")).Get("a"u8).AsString());
        var error = Assert.Throws<InvalidDatabaseException>(() => db.Find(IPAddress.Parse("2.2.2.2")).Decode());
        Assert.Contains("cut-data.mmdb: a string at data section offset", error.Message, StringComparison.Ordinal);
        Assert.Contains("runs past the end of the data section", error.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidDatabaseException>(() => db.Find(IPAddress.Parse("2.2.2.2")).Get("b"u8).AsString());
        Assert.Throws<InvalidDatabaseException>(() => new MmdbGeoLookup(db).Lookup(IPAddress.Parse("2.2.2.2")));
    }

    [Fact]
    public void Pointer_beyond_the_data_section()
    {
        var writer = new MmdbWriter(6, 28);
        var record = writer.WriteData(new MmdbWriter.Raw([0xE1, 0x42, (byte)'i', (byte)'d', .. MmdbWriter.Pointer(50_000)]));
        writer.InsertDataOffset("1.0.0.0/8", record);
        var db = Open(writer, "bad-pointer.mmdb");
        var value = db.Find(IPAddress.Parse("1.2.3.4"));
        Assert.Equal(MmdbDataType.Map, value.Type);
        var error = Assert.Throws<InvalidDatabaseException>(() => value.Decode());
        Assert.Contains("points to offset 50000, beyond the end of the data section", error.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidDatabaseException>(() => value.Get("id"u8));
    }

    [Fact]
    public void Search_tree_record_beyond_the_data_section()
    {
        var writer = new MmdbWriter(4, 32);
        writer.Insert("1.0.0.0/8", "fine");
        writer.InsertDataOffset("2.0.0.0/8", 1_000_000);
        writer.InsertDataOffset("3.0.0.0/8", -5); // node_count + 11: between "no data" and the data section
        var db = Open(writer, "bad-tree.mmdb");
        Assert.Equal("fine", db.Find(IPAddress.Parse("1.1.1.1")).AsString());
        var error = Assert.Throws<InvalidDatabaseException>(() => db.Find(IPAddress.Parse("2.2.2.2")));
        Assert.Contains("outside the data section", error.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidDatabaseException>(() => db.Find(IPAddress.Parse("3.3.3.3")));
    }

    public static TheoryData<string, byte[], string> BadFields() => new()
    {
        { "unknown extended type", [0x00, 0x09], "unknown data type 16" },
        { "extended type 0", [0x00, 0x00], "unknown data type 7" },
        { "string past the end", [0x5D, 0xFF, 0x41], "runs past the end of the data section" },
        { "uint32 of 5 bytes", [0xC5, 1, 2, 3, 4, 5], "at most 4 are valid" },
        { "uint16 of 3 bytes", [0xA3, 1, 2, 3], "at most 2 are valid" },
        { "uint64 of 9 bytes", [0x09, 0x02, 1, 2, 3, 4, 5, 6, 7, 8, 9], "at most 8 are valid" },
        { "uint128 of 17 bytes", [0x11, 0x03, .. new byte[17]], "at most 16 are valid" },
        { "double of 4 bytes", [0x64, 0, 0, 0, 0], "must be 8" },
        { "float of 8 bytes", [0x08, 0x08, 0, 0, 0, 0, 0, 0, 0, 0], "must be 4" },
        { "boolean of size 2", [0x02, 0x07], "only 0 (false) and 1 (true)" },
        { "map key not a string", [0xE1, 0xA1, 0x01, 0x41, (byte)'x'], "keys must be strings" },
        { "map with missing values", [0xE3, 0x41, (byte)'a', 0x41, (byte)'b'], "runs past the end" },
        { "array claiming 16 million elements", [0x1F, 0x04, 0xFF, 0xFF, 0xFF, 0x41, (byte)'a'], "runs past the end" },
        { "size bytes missing", [0x5F, 0x01], "a field size" },
        { "pointer bytes missing", [0x38, 0x00], "a pointer" },
        { "end marker", [0x00, 0x06], "an end marker" },
        { "data cache container", [0x00, 0x05], "a data cache container" },
    };

    [Theory]
    [MemberData(nameof(BadFields))]
    public void Bad_data_fields(string what, byte[] field, string problem)
    {
        var writer = new MmdbWriter(4, 24);
        var offset = writer.WriteData(new MmdbWriter.Raw(field));
        writer.InsertDataOffset("1.0.0.0/8", offset);
        var db = Open(writer, $"{what}.mmdb");
        var error = Assert.Throws<InvalidDatabaseException>(() => db.Find(IPAddress.Parse("1.1.1.1")).Decode());
        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
        Assert.StartsWith($"{what}.mmdb: ", error.Message, StringComparison.Ordinal);
        // The geo lookup reads the same bytes a different way; it must fail the same clean way (or find no map).
        try
        {
            new MmdbGeoLookup(db, GeoLevel.City).Lookup(IPAddress.Parse("1.1.1.1"));
        }
        catch (InvalidDatabaseException)
        {
        }
    }

    [Fact]
    public void Pointer_to_a_pointer()
    {
        var writer = new MmdbWriter(4, 24);
        var target = writer.WriteData("x");
        var first = writer.WriteData(new MmdbWriter.Raw(MmdbWriter.Pointer(target)));
        var second = writer.WriteData(new MmdbWriter.Raw([0xE1, 0x41, (byte)'k', .. MmdbWriter.Pointer(first)]));
        writer.InsertDataOffset("1.0.0.0/8", second);
        var db = Open(writer);
        var error = Assert.Throws<InvalidDatabaseException>(() => db.Find(IPAddress.Parse("1.1.1.1")).Decode());
        Assert.Contains("points to another pointer", error.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidDatabaseException>(() => db.Find(IPAddress.Parse("1.1.1.1")).Get("k"u8));
    }

    [Fact]
    public void Pointer_cycles_are_stopped()
    {
        // A map whose value points back at the map itself, and one that doubles at every level.
        var writer = new MmdbWriter(4, 24);
        var self = writer.WriteData(new MmdbWriter.Raw([0xE1, 0x41, (byte)'a', .. MmdbWriter.Pointer(0)]));
        var doubling = writer.WriteData(new MmdbWriter.Raw([]));
        writer.WriteData(new MmdbWriter.Raw([0xE2, 0x41, (byte)'a', .. MmdbWriter.Pointer(doubling), 0x41, (byte)'b', .. MmdbWriter.Pointer(doubling)]));
        writer.InsertDataOffset("1.0.0.0/8", self);
        writer.InsertDataOffset("2.0.0.0/8", doubling);
        var db = Open(writer);
        Assert.Contains("nested more than", Assert.Throws<InvalidDatabaseException>(() => db.Find(IPAddress.Parse("1.1.1.1")).Decode()).Message, StringComparison.Ordinal);
        Assert.Contains("more than", Assert.Throws<InvalidDatabaseException>(() => db.Find(IPAddress.Parse("2.2.2.2")).Decode()).Message, StringComparison.Ordinal);
        // Navigation only goes where it is asked, so it does not loop.
        Assert.Equal(MmdbDataType.Map, db.Find(IPAddress.Parse("1.1.1.1")).Get("a"u8).Get("a"u8).Get("a"u8).Type);
    }

    [Theory]
    [InlineData("record_size", (ushort)20, "record size 20 is not supported")]
    [InlineData("ip_version", (ushort)5, "ip_version 5 is neither 4 nor 6")]
    [InlineData("binary_format_major_version", (ushort)3, "major version 3 is not supported")]
    [InlineData("node_count", 0u, "node_count is 0")]
    [InlineData("node_count", 100_000_000u, "does not fit in 24-bit records")]
    [InlineData("node_count", 5_000_000u, "the file is truncated or corrupt")]
    [InlineData("node_count", "many", "'node_count' is String, not an unsigned integer")]
    [InlineData("record_size", -24, "'record_size' is Int32, not an unsigned integer")]
    [InlineData("database_type", 7u, "'database_type' is missing or not a string")]
    public void Bad_metadata(string key, object value, string problem)
    {
        var writer = new MmdbWriter(4, 24);
        writer.Insert("1.0.0.0/8", "x");
        writer.MetadataOverrides[key] = value;
        OpenFails("bad-metadata.mmdb", writer.Build(), problem);
    }

    [Theory]
    [InlineData("node_count")]
    [InlineData("record_size")]
    [InlineData("ip_version")]
    [InlineData("database_type")]
    [InlineData("binary_format_major_version")]
    public void Missing_required_metadata(string key)
    {
        var writer = new MmdbWriter(4, 24);
        writer.Insert("1.0.0.0/8", "x");
        writer.MetadataOverrides[key] = MmdbWriter.Remove;
        OpenFails("no-key.mmdb", writer.Build(), $"'{key}'");
    }

    [Fact]
    public void Metadata_that_is_not_a_map()
    {
        var bytes = (byte[])[.. new byte[32], .. MaxMindDatabase.MetadataMarker, .. MmdbWriter.Encode("not a map")];
        OpenFails("string-metadata.mmdb", bytes, "the metadata is not a map");
    }

    [Fact]
    public void Random_damage_only_ever_gives_InvalidDatabaseException()
    {
        var writer = new MmdbWriter(6, 28) { MapIPv4 = true };
        writer.Insert("1.0.0.0/8", FormatTests.EveryType);
        writer.Insert("2.0.0.0/16", Map(("country", Map(("iso_code", "US"), ("names", Map(("en", "United States"))))),
            ("subdivisions", List(Map(("iso_code", "CA"), ("names", Map(("en", "California")))))), ("city", Map(("names", Map(("en", "SF")))))));
        writer.Insert("2.1.0.0/16", Map(("country_code", "DE"), ("state1", "Hesse"), ("city", "Frankfurt")));
        writer.Insert("2a00::/16", Map(("country", Map(("iso_code", "US")))));
        var original = writer.Build();
        var addresses = new[] { "1.1.1.1", "2.0.0.1", "2.1.0.1", "2a00::1", "::ffff:2.0.0.1", "9.9.9.9" }.Select(IPAddress.Parse).ToArray();
        var random = new Random(42);
        var outcomes = new Dictionary<string, int>();
        for (var round = 0; round < 3_000; round++)
        {
            var bytes = (byte[])original.Clone();
            var damage = random.Next(1, 5);
            for (var i = 0; i < damage; i++)
            {
                // Mostly in the data section and metadata (the last 72 KB): that is where the decoder is exercised.
                var at = random.Next(2) == 0 ? random.Next(bytes.Length) : bytes.Length - 1 - random.Next(Math.Min(bytes.Length, 72_000));
                bytes[at] = random.Next(3) == 0 ? (byte)(bytes[at] ^ (1 << random.Next(8))) : (byte)random.Next(256);
            }
            if (random.Next(10) == 0) bytes = bytes[..random.Next(bytes.Length)];
            var outcome = "ok";
            try
            {
                var db = MaxMindDatabase.FromBytes(bytes, "damaged.mmdb");
                foreach (var level in new[] { GeoLevel.Country, GeoLevel.City })
                {
                    var geo = new MmdbGeoLookup(db, level);
                    foreach (var address in addresses)
                    {
                        geo.Lookup(address);
                        db.Find(address).Decode();
                    }
                }
            }
            catch (InvalidDatabaseException)
            {
                outcome = "invalid";
            }
            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
        }
        Assert.True(outcomes.GetValueOrDefault("invalid") > 100, string.Join(", ", outcomes));
    }

    private static byte[] RandomBytes(int count, int seed)
    {
        var bytes = new byte[count];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
