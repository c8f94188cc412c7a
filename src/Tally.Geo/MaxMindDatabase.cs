using System.Net;
using System.Net.Sockets;

namespace Tally.Geo;

/// <summary>
/// A MaxMind DB (.mmdb) file, read whole into memory and never changed afterwards, so any number of threads may look
/// up at once. Written from the MaxMind DB File Format Specification 2.0: a binary search tree over the address bits
/// (24-, 28- or 32-bit records), 16 zero bytes, the data section, then the metadata after the last
/// "\xAB\xCD\xEFMaxMind.com" marker.
/// </summary>
public sealed class MaxMindDatabase
{
    /// <summary>The bytes that start the metadata; the last occurrence in the file counts.</summary>
    public static ReadOnlySpan<byte> MetadataMarker => Marker;

    private static readonly byte[] Marker = [0xAB, 0xCD, 0xEF, .. "MaxMind.com"u8];

    /// <summary>The format caps the metadata, marker included, at 128 KiB, so only the file's tail is searched.</summary>
    private const int MaxMetadataSize = 128 * 1024;

    private const int DataSectionSeparator = 16;

    private readonly byte[] _bytes;
    private readonly uint _nodeCount;
    private readonly int _recordSize;

    // Where IPv4 lookups start in an IPv6 tree: the node reached from the root after 96 zero bits (::/96), and how
    // many bits that took (fewer when the tree ends there, e.g. when all of ::/64 has one record or none).
    private readonly uint _ipv4Root;
    private readonly int _ipv4RootDepth;

    /// <summary>The data section, with the decoder.</summary>
    internal readonly MmdbSection Data;

    private MaxMindDatabase(byte[] bytes, string name)
    {
        _bytes = bytes;
        Name = name;

        if (bytes.Length == 0) throw new InvalidDatabaseException(name, "the file is empty, not a MaxMind DB");
        var tail = Math.Max(0, bytes.Length - MaxMetadataSize);
        var found = bytes.AsSpan(tail).LastIndexOf(MetadataMarker);
        if (found < 0)
            throw new InvalidDatabaseException(name,
                "not a MaxMind DB: no metadata marker (\\xAB\\xCD\\xEFMaxMind.com) in the last 128 KiB of the file");
        var metadataStart = tail + found;
        Metadata = MaxMindMetadata.Read(new MmdbSection(bytes, metadataStart + MetadataMarker.Length, bytes.Length, name, "metadata"));

        _nodeCount = Metadata.NodeCount;
        _recordSize = Metadata.RecordSize;
        var treeSize = Metadata.SearchTreeSize;
        if (treeSize + DataSectionSeparator > metadataStart)
            throw new InvalidDatabaseException(name,
                $"the search tree ({_nodeCount} nodes of {_recordSize / 4} bytes) and the 16-byte separator after it need "
                + $"{treeSize + DataSectionSeparator} bytes, but the metadata starts at byte {metadataStart}: the file is truncated or corrupt");
        Data = new MmdbSection(bytes, (int)treeSize + DataSectionSeparator, metadataStart, name, "data section");

        if (Metadata.IPVersion == 6)
        {
            uint node = 0;
            var depth = 0;
            for (; depth < 96 && node < _nodeCount; depth++) node = ReadRecord(node, 0);
            _ipv4Root = node;
            _ipv4RootDepth = depth;
        }
    }

    /// <summary>The file the database was read from, or the name it was given.</summary>
    public string Name { get; }

    public MaxMindMetadata Metadata { get; }

    /// <summary>Bytes in the data section.</summary>
    public int DataSectionSize => Data.Length;

    /// <summary>Reads a .mmdb file into memory. Throws <see cref="InvalidDatabaseException"/> when it is not a valid one
    /// (I/O errors such as a missing file come through as they are).</summary>
    public static MaxMindDatabase Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return new MaxMindDatabase(File.ReadAllBytes(path), path);
    }

    /// <summary>A database from bytes already in memory (copied, so later changes to the array do not matter).</summary>
    public static MaxMindDatabase FromBytes(ReadOnlySpan<byte> bytes, string name = "(in-memory database)") =>
        new(bytes.ToArray(), name);

    /// <summary>The record for an address, or a missing value when the database has none. IPv4-mapped IPv6 addresses
    /// (::ffff:a.b.c.d) are looked up as the IPv4 address; an IPv6 address in an IPv4 database has no record.</summary>
    public MmdbValue Find(IPAddress address) => Find(address, out _);

    /// <inheritdoc cref="Find(IPAddress)"/>
    /// <param name="address">The address.</param>
    /// <param name="prefixLength">The length of the network the answer holds for (bits of the address as given, or of the
    /// IPv4 address for a mapped one), also when there is no record.</param>
    public MmdbValue Find(IPAddress address, out int prefixLength)
    {
        var offset = FindDataOffset(address, out prefixLength);
        return offset < 0 ? default : ValueAt(offset);
    }

    /// <summary>Where the record for an address starts in the data section, or -1 when there is none; the cheapest
    /// lookup (no decoding), and a stable key for caching what was made of a record.</summary>
    public int FindDataOffset(IPAddress address, out int prefixLength)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
            throw new ArgumentException($"{address.AddressFamily} is not an IP address family", nameof(address));
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var written);
        return FindDataOffset(bytes[..written], out prefixLength);
    }

    /// <summary><see cref="FindDataOffset(IPAddress, out int)"/> for an address as its 4 or 16 bytes, network order.</summary>
    public int FindDataOffset(ReadOnlySpan<byte> address, out int prefixLength)
    {
        if (address.Length == 16 && IsIPv4Mapped(address)) address = address[12..];
        if (address.Length == 16 && Metadata.IPVersion == 4)
        {
            prefixLength = 0;
            return -1;
        }
        if (address.Length is not (4 or 16))
            throw new ArgumentException($"An IP address is 4 or 16 bytes, not {address.Length}.", nameof(address));
        return Walk(address, out prefixLength);
    }

    /// <summary>::ffff:a.b.c.d</summary>
    internal static bool IsIPv4Mapped(ReadOnlySpan<byte> ipv6) =>
        ipv6[..10].IndexOfAnyExcept((byte)0) < 0 && ipv6[10] == 0xFF && ipv6[11] == 0xFF;

    /// <summary>The value at an offset in the data section (as <see cref="FindDataOffset"/> returns).</summary>
    public MmdbValue ValueAt(int dataOffset)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(dataOffset);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(dataOffset, Data.Length);
        return new MmdbValue(this, Data.Follow(Data.Start + dataOffset));
    }

    /// <summary>Decodes the value at an offset in the data section into plain objects: map →
    /// <c>Dictionary&lt;string, object?&gt;</c>, array → <c>List&lt;object?&gt;</c>, UTF-8 string → string, double,
    /// float, bytes → byte[], uint16 → ushort, uint32 → uint, int32 → int, uint64 → ulong, uint128 → UInt128,
    /// boolean → bool.</summary>
    public object? Decode(int dataOffset) => ValueAt(dataOffset).Decode();

    /// <summary>Follows the address bits down the tree from the root (or, for IPv4 in an IPv6 tree, from ::/96).</summary>
    private int Walk(ReadOnlySpan<byte> address, out int prefixLength)
    {
        var bits = address.Length * 8;
        var nodeCount = _nodeCount;
        var node = bits == 32 && Metadata.IPVersion == 6 ? _ipv4Root : 0u;
        var i = 0;
        for (; i < bits && node < nodeCount; i++) node = ReadRecord(node, (address[i >> 3] >> (7 - (i & 7))) & 1);
        prefixLength = i;

        if (node == nodeCount) return -1;
        if (node < nodeCount)
            throw new InvalidDatabaseException(Name, $"the search tree is deeper than the {bits} bits of an address");
        // Record values from node_count + 16 on point into the data section; node_count + 1 .. + 15 are invalid.
        var offset = (long)node - nodeCount - DataSectionSeparator;
        if (offset < 0 || offset >= Data.Length)
            throw new InvalidDatabaseException(Name,
                $"a search tree record ({node}) points to data offset {offset}, outside the data section ({Data.Length} bytes)");
        return (int)offset;
    }

    /// <summary>The left (0) or right (1) record of a node; node &lt; node_count, and the whole tree was checked to be in
    /// the file.</summary>
    private uint ReadRecord(uint node, int right)
    {
        var b = _bytes;
        switch (_recordSize)
        {
            case 24:
                {
                    var at = (int)node * 6 + right * 3;
                    return (uint)((b[at] << 16) | (b[at + 1] << 8) | b[at + 2]);
                }
            case 28:
                {
                    // | left 23..0 | left 27..24, right 27..24 | right 23..0 |: the middle byte's nibbles go on top.
                    var at = (int)node * 7;
                    return right == 0
                        ? (uint)(((b[at + 3] & 0xF0) << 20) | (b[at] << 16) | (b[at + 1] << 8) | b[at + 2])
                        : (uint)(((b[at + 3] & 0x0F) << 24) | (b[at + 4] << 16) | (b[at + 5] << 8) | b[at + 6]);
                }
            default:
                {
                    var at = (int)node * 8 + right * 4;
                    return ((uint)b[at] << 24) | ((uint)b[at + 1] << 16) | ((uint)b[at + 2] << 8) | b[at + 3];
                }
        }
    }
}
