using System.Text;
using static Tally.Geo.Tests.GeoTestKit;

namespace Tally.Geo.Tests;

/// <summary>Databases written by the test writer read back exactly: tree layouts, every data type, pointers.</summary>
public sealed class FormatTests
{
    public static TheoryData<int, int> Layouts() => new()
    {
        { 24, 4 }, { 28, 4 }, { 32, 4 },
        { 24, 6 }, { 28, 6 }, { 32, 6 },
    };

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Networks_are_found_with_their_prefix_length(int recordSize, int ipVersion)
    {
        var writer = new MmdbWriter(ipVersion, recordSize);
        writer.Insert("1.0.0.0/8", Map(("name", "one")));
        writer.Insert("1.2.0.0/16", Map(("name", "one-two")));
        writer.Insert("1.2.3.4/32", Map(("name", "host")));
        writer.Insert("128.0.0.0/1", "upper half");
        if (ipVersion == 6)
        {
            writer.Insert("2001:db8::/32", Map(("name", "doc")));
            writer.Insert("2001:db8:1::/48", List("nested", (ushort)48));
        }
        var db = Open(writer);

        Assert.Equal(recordSize, db.Metadata.RecordSize);
        Assert.Equal(ipVersion, db.Metadata.IPVersion);
        // The prefix length is the depth of the record in the tree: a network with a more specific one inside is
        // split along the way, so 1.0.0.0 is answered by 1.0.0.0/15 (it leaves the path to 1.2.0.0/16 at bit 15).
        Expect("1.0.0.0", 15, Map(("name", "one")));
        Expect("1.255.255.255", 9, Map(("name", "one")));
        Expect("1.2.0.1", 23, Map(("name", "one-two")));
        Expect("1.2.3.4", 32, Map(("name", "host")));
        Expect("1.2.3.5", 32, Map(("name", "one-two")));
        Expect("::ffff:1.2.3.4", 32, Map(("name", "host")));
        Expect("200.1.1.1", 1, "upper half");
        Assert.False(db.Find(Ip("2.0.0.1")).Exists);
        Assert.Equal(-1, db.FindDataOffset(Ip("0.0.0.1"), out _));
        if (ipVersion == 6)
        {
            Expect("2001:db8::1", 48, Map(("name", "doc")));
            Expect("2001:db8:1:2::3", 48, List("nested", (ushort)48));
            Assert.False(db.Find(Ip("2001:db9::1")).Exists);
            // IPv4-compatible (::a.b.c.d) walks all 128 bits into the IPv4 subtree under ::/96.
            Expect("::1.2.3.5", 128, Map(("name", "one-two")));
        }
        else
        {
            // An IPv6 address cannot be in an IPv4 database.
            Assert.False(db.Find(Ip("2001:db8::1"), out var prefix).Exists);
            Assert.Equal(0, prefix);
        }

        void Expect(string address, int prefixLength, object expected)
        {
            var value = db.Find(Ip(address), out var actualPrefix);
            Assert.True(value.Exists, $"{address} not found");
            Assert.Equal(prefixLength, actualPrefix);
            AssertDecoded(expected, value.Decode());
        }
    }

    [Theory]
    [InlineData(24)]
    [InlineData(28)]
    [InlineData(32)]
    public void IPv4_mapped_subtree_written_by_the_database_gives_the_same_records(int recordSize)
    {
        var writer = new MmdbWriter(6, recordSize) { MapIPv4 = true };
        writer.Insert("81.2.69.0/24", "GB network");
        var db = Open(writer);
        // Walking ::ffff:81.2.69.142 bit by bit (as a reader that does not special-case it would) finds the same record.
        Span<byte> mapped = stackalloc byte[16];
        Ip("::ffff:81.2.69.142").TryWriteBytes(mapped, out _);
        var viaTree = db.FindDataOffset(Ip("81.2.69.142"), out _);
        Assert.True(viaTree >= 0);
        Assert.Equal(viaTree, db.FindDataOffset(mapped, out _));
        Assert.Equal("GB network", db.Find(Ip("::ffff:81.2.69.142")).AsString());
    }

    [Theory]
    [InlineData(24)]
    [InlineData(28)]
    [InlineData(32)]
    public void Record_values_use_every_bit_of_the_record(int recordSize)
    {
        // Over 16 MiB of data pushes the next records' values past 2^24, so 28- and 32-bit records need their high
        // bits (for 28 bits: the nibbles of the middle byte, left record's in the high half).
        var writer = new MmdbWriter(4, recordSize);
        var padding = new byte[16_800_000];
        padding[0] = 0xAA;
        writer.Insert("10.0.0.0/8", padding);
        writer.Insert("11.0.0.0/9", "left");
        writer.Insert("11.128.0.0/9", "right");
        if (recordSize == 24)
        {
            Assert.Throws<InvalidOperationException>(() => writer.Build());
            return;
        }
        var db = Open(writer);
        Assert.Equal("left", db.Find(Ip("11.1.1.1")).AsString());
        Assert.Equal("right", db.Find(Ip("11.200.1.1")).AsString());
        Assert.True(db.FindDataOffset(Ip("11.1.1.1"), out _) > 16_777_216);
        Assert.Equal(16_800_000, ((byte[])db.Find(Ip("10.1.1.1")).Decode()!).Length);
    }

    public static readonly Dictionary<string, object?> EveryType = Map(
        ("utf8", "Zürich – 東京 – 🙂"),
        ("empty_string", ""),
        ("string_29", new string('a', 29)),
        ("string_284", new string('b', 284)),
        ("string_285", new string('c', 285)),
        ("string_65820", new string('d', 65_820)),
        ("string_65821", new string('e', 65_821)),
        ("string_70000", new string('f', 70_000)),
        ("double", 42.125),
        ("double_negative", -0.1),
        ("double_nan", double.NaN),
        ("float", 1.5f),
        ("float_max", float.MaxValue),
        ("bytes", new byte[] { 0, 1, 2, 0xFF }),
        ("bytes_empty", Array.Empty<byte>()),
        ("uint16_0", (ushort)0),
        ("uint16", (ushort)300),
        ("uint16_max", ushort.MaxValue),
        ("uint32_0", 0u),
        ("uint32", 70_000u),
        ("uint32_max", uint.MaxValue),
        ("int32_0", 0),
        ("int32", 1_000),
        ("int32_3bytes", 0x00FF_FFFF),
        ("int32_max", int.MaxValue),
        ("int32_min", int.MinValue),
        ("int32_minus_one", -1),
        ("uint64", 1UL << 40),
        ("uint64_max", ulong.MaxValue),
        ("uint128", (UInt128)1 << 100),
        ("uint128_max", UInt128.MaxValue),
        ("uint128_0", UInt128.Zero),
        ("true", true),
        ("false", false),
        ("map_empty", Map()),
        ("array_empty", List()),
        ("nested", Map(
            ("names", Map(("en", "Germany"), ("de", "Deutschland"))),
            ("list", List(Map(("a", (ushort)1)), List(List("deep", true), 2u), "x")))),
        ("array_mixed", List("a", 1u, -2, 3.5, 4.5f, true, new byte[] { 9 }, Map(("k", "v")), List())));

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Every_data_type_reads_back_exactly(int recordSize, int ipVersion)
    {
        var writer = new MmdbWriter(ipVersion, recordSize);
        writer.Insert("5.0.0.0/8", EveryType);
        var db = Open(writer);
        AssertDecoded(EveryType, db.Find(Ip("5.6.7.8")).Decode());
    }

    [Fact]
    public void A_map_with_more_than_28_pairs_and_a_long_array_read_back()
    {
        var big = Enumerable.Range(0, 300).ToDictionary(i => $"key{i}", i => (object?)(uint)i);
        var list = Enumerable.Range(0, 70_000).Select(i => (object?)(ushort)(i % 65_536)).ToList();
        var writer = new MmdbWriter(4, 24);
        writer.Insert("1.0.0.0/8", Map(("big", big), ("list", list)));
        var record = Open(writer).Find(Ip("1.1.1.1"));
        AssertDecoded(Map(("big", big), ("list", list)), record.Decode());
        Assert.Equal(300, record.Get("big"u8).Count);
        Assert.Equal(299UL, record.Get("big"u8).Get("key299").AsUInt64());
        Assert.Equal((ulong)(69_999 % 65_536), record.Get("list"u8).At(69_999).AsUInt64());
    }

    [Fact]
    public void Shared_values_are_pointers_of_every_size_and_read_back()
    {
        var writer = new MmdbWriter(6, 28);
        var shared = Map(("iso_code", "DE"), ("names", Map(("en", "Germany"))));
        // Offsets below 2 KiB, between 2 KiB and 512 KiB, and beyond: 1-, 2- and 3-byte pointers.
        writer.Insert("1.0.0.0/16", Map(("country", shared), ("tag", "first")));
        writer.Insert("1.1.0.0/16", Map(("pad", new byte[4_000]), ("second", "value-at-4k")));
        writer.Insert("1.2.0.0/16", Map(("country", shared), ("ref", "value-at-4k"), ("pad", new byte[600_000]), ("third", "value-at-600k")));
        writer.Insert("1.3.0.0/16", Map(("country", shared), ("a", "value-at-4k"), ("b", "value-at-600k"), ("tag", "first")));
        var db = Open(writer);

        Assert.True(writer.PointersBySize[0] > 0 && writer.PointersBySize[1] > 0 && writer.PointersBySize[2] > 0,
            $"pointers by size: {string.Join(",", writer.PointersBySize)}");
        var last = db.Find(Ip("1.3.0.1"));
        AssertDecoded(Map(("country", shared), ("a", "value-at-4k"), ("b", "value-at-600k"), ("tag", "first")), last.Decode());
        Assert.Equal("Germany", last.Get("country"u8).Get("names"u8).Get("en"u8).AsString());
        Assert.Equal("value-at-600k", last.Get("b"u8).AsString());
        // The shared map is one value: both records lead to the same offset.
        Assert.Equal(db.Find(Ip("1.0.0.1")).Get("country"u8).Offset, last.Get("country"u8).Offset);
    }

    [Fact]
    public void Four_byte_pointers_read_back()
    {
        var writer = new MmdbWriter(4, 32) { PointerSize = 3 };
        var shared = Map(("iso_code", "FR"), ("names", Map(("en", "France"))));
        writer.Insert("1.0.0.0/8", Map(("country", shared)));
        writer.Insert("2.0.0.0/8", Map(("country", shared), ("city", "Paris")));
        var db = Open(writer);
        Assert.True(writer.PointersBySize[3] > 0);
        Assert.Equal(0, writer.PointersBySize[0] + writer.PointersBySize[1] + writer.PointersBySize[2]);
        AssertDecoded(Map(("country", shared), ("city", "Paris")), db.Find(Ip("2.2.2.2")).Decode());
        Assert.Equal("France", db.Find(Ip("2.2.2.2")).Get("country"u8).Get("names"u8).Get("en"u8).AsString());
    }

    [Fact]
    public void Values_in_a_data_cache_container_are_reached_through_pointers()
    {
        var writer = new MmdbWriter(4, 24);
        writer.WriteData(new MmdbWriter.Container("United States", Map(("en", "California"))));
        writer.Insert("3.0.0.0/8", Map(("country", "United States"), ("names", Map(("en", "California")))));
        writer.AppendEndMarker = true;
        var db = Open(writer);
        var record = db.Find(Ip("3.3.3.3"));
        AssertDecoded(Map(("country", "United States"), ("names", Map(("en", "California")))), record.Decode());
        Assert.True(writer.PointersBySize[0] >= 2);
        // The container itself is no value.
        var error = Assert.Throws<InvalidDatabaseException>(() => db.Decode(0));
        Assert.Contains("data cache container", error.Message, StringComparison.Ordinal);
        var end = Assert.Throws<InvalidDatabaseException>(() => db.Decode(db.DataSectionSize - 2));
        Assert.Contains("end marker", end.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Navigation_reads_parts_of_a_record_without_decoding_it()
    {
        var writer = new MmdbWriter(6, 24);
        writer.Insert("9.0.0.0/8", EveryType);
        var record = Open(writer).Find(Ip("9.9.9.9"));

        Assert.Equal(MmdbDataType.Map, record.Type);
        Assert.Equal(EveryType.Count, record.Count);
        Assert.Equal("Deutschland", record.Get("nested"u8).Get("names"u8).Get("de"u8).AsString());
        Assert.Equal("Deutschland", record.Get("nested").Get("names").Get("de").AsString());
        Assert.Equal("deep", record.Get("nested"u8).Get("list"u8).At(1).At(0).At(0).AsString());
        Assert.Equal(MmdbDataType.Boolean, record.Get("nested"u8).Get("list"u8).At(1).At(0).At(1).Type);
        Assert.Equal(ulong.MaxValue, record.Get("uint64_max"u8).AsUInt64());
        Assert.Equal(65_535UL, record.Get("uint16_max"u8).AsUInt64());
        Assert.Equal(1_000UL, record.Get("int32"u8).AsUInt64());
        Assert.Null(record.Get("int32_min"u8).AsUInt64());
        Assert.Null(record.Get("uint128_max"u8).AsUInt64());
        Assert.Equal(MmdbDataType.UInt128, record.Get("uint128"u8).Type);
        Assert.True(record.Get("utf8"u8).TryGetUtf8(out var utf8));
        Assert.True(utf8.SequenceEqual(Encoding.UTF8.GetBytes("Zürich – 東京 – 🙂")));
        Assert.Equal(70_000, record.Get("string_70000"u8).AsString()!.Length);

        // Missing keys, wrong types and out-of-range indexes give a missing value, all the way down.
        var missing = record.Get("nope"u8).Get("deeper"u8).At(3);
        Assert.False(missing.Exists);
        Assert.Equal(MmdbDataType.None, missing.Type);
        Assert.Null(missing.AsString());
        Assert.Null(missing.Decode());
        Assert.Equal(-1, missing.Offset);
        Assert.False(record.Get("utf8"u8).Get("x"u8).Exists);
        Assert.Null(record.Get("double"u8).AsString());
        Assert.False(record.Get("array_mixed"u8).At(9).Exists);
        Assert.False(record.Get("array_mixed"u8).At(-1).Exists);
        Assert.Equal(0, record.Get("utf8"u8).Count);
        Assert.Equal(default, missing);
    }

    [Fact]
    public void Metadata_reads_back()
    {
        var writer = new MmdbWriter(6, 28) { DatabaseType = "GeoIP2-City-Test", BuildEpoch = 1_735_689_600 };
        writer.Languages.Add("de");
        writer.Description["de"] = "Testdatenbank";
        writer.Insert("1.0.0.0/8", "x");
        var metadata = Open(writer).Metadata;

        Assert.Equal("GeoIP2-City-Test", metadata.DatabaseType);
        Assert.Equal(new[] { "en", "de" }, metadata.Languages);
        Assert.Equal("Testdatenbank", metadata.Description["de"]);
        Assert.Equal("Test database", metadata.Description["en"]);
        Assert.Equal(1_735_689_600UL, metadata.BuildEpoch);
        Assert.Equal(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero), metadata.BuildTime);
        Assert.Equal(28, metadata.RecordSize);
        Assert.Equal(2, metadata.BinaryFormatMajorVersion);
        Assert.Equal(0, metadata.BinaryFormatMinorVersion);
        Assert.True(metadata.NodeCount >= 104);
    }

    [Fact]
    public void Optional_metadata_may_be_missing_and_integers_may_be_any_unsigned_width()
    {
        var writer = new MmdbWriter(4, 24);
        writer.MetadataOverrides["languages"] = MmdbWriter.Remove;
        writer.MetadataOverrides["description"] = MmdbWriter.Remove;
        writer.MetadataOverrides["build_epoch"] = MmdbWriter.Remove;
        writer.MetadataOverrides["record_size"] = 24UL;
        writer.MetadataOverrides["ip_version"] = 4u;
        writer.Insert("1.0.0.0/8", "x");
        var db = Open(writer);
        Assert.Empty(db.Metadata.Languages);
        Assert.Empty(db.Metadata.Description);
        Assert.Equal(0UL, db.Metadata.BuildEpoch);
        Assert.Equal("x", db.Find(Ip("1.2.3.4")).AsString());
    }

    [Fact]
    public void A_record_may_be_reached_through_a_pointer_in_the_tree_position()
    {
        var writer = new MmdbWriter(4, 24);
        var target = writer.WriteData("pointed-at");
        var pointer = writer.WriteData(new MmdbWriter.Raw(MmdbWriter.Pointer(target)));
        writer.InsertDataOffset("7.0.0.0/8", pointer);
        var db = Open(writer);
        Assert.Equal("pointed-at", db.Find(Ip("7.7.7.7")).AsString());
        Assert.Equal(target, db.Find(Ip("7.7.7.7")).Offset);
    }

    [Fact]
    public void Metadata_marker_inside_the_data_does_not_confuse_the_reader()
    {
        var writer = new MmdbWriter(4, 24);
        writer.Insert("1.0.0.0/8", Map(("marker", MaxMindDatabase.MetadataMarker.ToArray())));
        var db = Open(writer);
        Assert.Equal(24, db.Metadata.RecordSize);
        AssertDecoded(Map(("marker", MaxMindDatabase.MetadataMarker.ToArray())), db.Find(Ip("1.1.1.1")).Decode());
    }
}
