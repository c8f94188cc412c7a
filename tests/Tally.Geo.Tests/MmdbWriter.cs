using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Tally.Geo.Tests;

/// <summary>
/// A small MaxMind DB writer for tests, written from the format spec independently of the reader: a trie of networks
/// numbered breadth-first, records of 24, 28 or 32 bits, a data section where repeated values (map keys included) become
/// pointers, and the metadata map after the marker. It can also place hand-made bytes, to build broken databases.
/// </summary>
internal sealed class MmdbWriter(int ipVersion = 6, int recordSize = 28)
{
    private readonly Node _root = new();
    private readonly List<byte> _data = [];
    private readonly Dictionary<string, int> _written = new(StringComparer.Ordinal);

    public string DatabaseType { get; set; } = "Tally-Test";
    public List<string> Languages { get; } = ["en"];
    public Dictionary<string, string> Description { get; } = new() { ["en"] = "Test database" };
    public ulong BuildEpoch { get; set; } = 1_700_000_000;

    /// <summary>Values (and keys) already written are written again as pointers to the first copy.</summary>
    public bool SharePointers { get; set; } = true;

    /// <summary>Pointer width to use (0 to 3) where it can hold the offset; null for the smallest.</summary>
    public int? PointerSize { get; set; }

    /// <summary>Links ::ffff:0:0/96 to the IPv4 subtree, as MaxMind's databases do.</summary>
    public bool MapIPv4 { get; set; }

    /// <summary>Ends the data section with an end marker.</summary>
    public bool AppendEndMarker { get; set; }

    /// <summary>Replaces (or, with <see cref="Remove"/>, drops) metadata keys.</summary>
    public Dictionary<string, object?> MetadataOverrides { get; } = new(StringComparer.Ordinal);

    /// <summary>Pointers written, by their size (0 to 3).</summary>
    public int[] PointersBySize { get; } = new int[4];

    public static readonly object Remove = new();

    /// <summary>Bytes copied as they are into the data section.</summary>
    public sealed record Raw(byte[] Bytes);

    /// <summary>A data cache container holding the values, which later values point into.</summary>
    public sealed record Container(params object?[] Values);

    public sealed record EndMarker;

    /// <summary>Writes bytes at the start of the data section now, so tests know their offset (returned).</summary>
    public int WriteData(object? value) => WriteField(value, share: false);

    /// <summary>Sets the record of a network to a value.</summary>
    public void Insert(string cidr, object? value) => Insert(cidr, new Leaf(value, null));

    /// <summary>Sets the record of a network to an offset in the data section, valid or not.</summary>
    public void InsertDataOffset(string cidr, long dataOffset) => Insert(cidr, new Leaf(null, dataOffset));

    public byte[] Build()
    {
        if (MapIPv4 && ipVersion == 6) LinkIPv4();
        // Records first, so their data is written before the tree is numbered.
        var leafOffsets = new Dictionary<Leaf, long>(ReferenceEqualityComparer.Instance);
        var nodes = new List<Node>();
        var index = new Dictionary<Node, int>(ReferenceEqualityComparer.Instance);
        var queue = new Queue<Node>();
        queue.Enqueue(_root);
        index[_root] = 0;
        while (queue.Count > 0)
        {
            var node = queue.Dequeue();
            nodes.Add(node);
            foreach (var child in new[] { node.Left, node.Right })
            {
                if (child is Node n && !index.ContainsKey(n))
                {
                    index[n] = index.Count;
                    queue.Enqueue(n);
                }
                else if (child is Leaf leaf && !leafOffsets.ContainsKey(leaf))
                {
                    leafOffsets[leaf] = leaf.DataOffset ?? WriteRecord(leaf.Value);
                }
            }
        }
        if (AppendEndMarker) _data.AddRange([0x00, 0x06]);

        var nodeCount = (long)nodes.Count;
        var output = new List<byte>();
        foreach (var node in nodes)
        {
            var left = RecordValue(node.Left);
            var right = RecordValue(node.Right);
            switch (recordSize)
            {
                case 24:
                    output.AddRange([(byte)(left >> 16), (byte)(left >> 8), (byte)left, (byte)(right >> 16), (byte)(right >> 8), (byte)right]);
                    break;
                case 28:
                    output.AddRange([(byte)(left >> 16), (byte)(left >> 8), (byte)left,
                        (byte)(((left >> 24) & 0x0F) << 4 | ((right >> 24) & 0x0F)),
                        (byte)(right >> 16), (byte)(right >> 8), (byte)right]);
                    break;
                case 32:
                    output.AddRange([(byte)(left >> 24), (byte)(left >> 16), (byte)(left >> 8), (byte)left,
                        (byte)(right >> 24), (byte)(right >> 16), (byte)(right >> 8), (byte)right]);
                    break;
                default:
                    throw new InvalidOperationException($"record size {recordSize}");
            }
        }
        output.AddRange(new byte[16]);
        output.AddRange(_data);
        output.AddRange(MaxMindDatabase.MetadataMarker.ToArray());

        var metadata = new Dictionary<string, object?>
        {
            ["binary_format_major_version"] = (ushort)2,
            ["binary_format_minor_version"] = (ushort)0,
            ["build_epoch"] = BuildEpoch,
            ["database_type"] = DatabaseType,
            ["description"] = Description.ToDictionary(d => d.Key, d => (object?)d.Value),
            ["ip_version"] = (ushort)ipVersion,
            ["languages"] = Languages.Cast<object?>().ToList(),
            ["node_count"] = (uint)nodeCount,
            ["record_size"] = (ushort)recordSize,
        };
        foreach (var (key, value) in MetadataOverrides)
        {
            if (ReferenceEquals(value, Remove)) metadata.Remove(key);
            else metadata[key] = value;
        }
        output.AddRange(Encode(metadata));
        return output.ToArray();

        uint RecordValue(object? child)
        {
            var value = child switch
            {
                null => nodeCount,
                Node n => index[n],
                Leaf leaf => nodeCount + 16 + leafOffsets[leaf],
                _ => throw new InvalidOperationException(),
            };
            if (value < 0 || (recordSize < 32 && value >= 1L << recordSize))
                throw new InvalidOperationException($"record value {value} does not fit in {recordSize} bits");
            return (uint)value;
        }
    }

    /// <summary>Encodes one value on its own, with no pointers (as the metadata is written).</summary>
    public static byte[] Encode(object? value)
    {
        var writer = new MmdbWriter { SharePointers = false };
        writer.WriteField(value, share: false);
        return [.. writer._data];
    }

    private void Insert(string cidr, Leaf leaf)
    {
        var slash = cidr.IndexOf('/');
        var address = IPAddress.Parse(cidr[..slash]);
        var prefix = int.Parse(cidr[(slash + 1)..]);
        var bytes = address.GetAddressBytes();
        if (address.AddressFamily == AddressFamily.InterNetwork && ipVersion == 6)
        {
            bytes = [.. new byte[12], .. bytes];
            prefix += 96;
        }
        else if (address.AddressFamily == AddressFamily.InterNetworkV6 && ipVersion == 4)
        {
            throw new ArgumentException("IPv6 network in an IPv4 tree");
        }
        SetChild(_root, bytes, prefix, leaf);
    }

    private static void SetChild(Node root, byte[] bits, int prefix, object child)
    {
        if (prefix < 1) throw new ArgumentException("prefix length 0");
        var node = root;
        for (var i = 0; i < prefix - 1; i++)
        {
            var bit = Bit(bits, i);
            var next = node[bit];
            if (next is not Node inner)
            {
                // A network inside one that already has a record: split, keeping the record on both sides.
                inner = new Node { Left = next, Right = next };
                node[bit] = inner;
            }
            node = inner;
        }
        node[Bit(bits, prefix - 1)] = child;
    }

    private void LinkIPv4()
    {
        var node = _root;
        for (var i = 0; i < 96 && node is not null; i++) node = node.Left as Node;
        if (node is null) return;
        var mapped = new byte[16];
        mapped[10] = mapped[11] = 0xFF;
        SetChild(_root, mapped, 96, node);
    }

    private static int Bit(byte[] bytes, int i) => (bytes[i >> 3] >> (7 - (i & 7))) & 1;

    private long WriteRecord(object? value)
    {
        if (SharePointers && Shareable(value) && _written.TryGetValue(Key(value), out var existing)) return existing;
        return WriteField(value, share: SharePointers);
    }

    private int WriteField(object? value, bool share)
    {
        string? key = null;
        if (share && Shareable(value))
        {
            key = Key(value);
            if (_written.TryGetValue(key, out var existing))
            {
                var at = _data.Count;
                WritePointer(existing);
                return at;
            }
        }
        var start = _data.Count;
        switch (value)
        {
            case Raw raw:
                _data.AddRange(raw.Bytes);
                break;
            case EndMarker:
                WriteControl(13, 0);
                break;
            case Container container:
                {
                    // The container's payload is its values; later values that equal one point into it.
                    var inner = new MmdbWriter { SharePointers = false };
                    var offsets = new List<(string, int)>();
                    foreach (var v in container.Values)
                        offsets.Add((Key(v), inner.WriteField(v, share: false)));
                    WriteControl(12, inner._data.Count);
                    var payloadStart = _data.Count;
                    _data.AddRange(inner._data);
                    foreach (var (k, offset) in offsets) _written.TryAdd(k, payloadStart + offset);
                    break;
                }
            case string s:
                {
                    var bytes = Encoding.UTF8.GetBytes(s);
                    WriteControl(2, bytes.Length);
                    _data.AddRange(bytes);
                    break;
                }
            case double d:
                WriteControl(3, 8);
                _data.AddRange(BigEndian(BitConverter.DoubleToUInt64Bits(d), 8));
                break;
            case float f:
                WriteControl(15, 4);
                _data.AddRange(BigEndian(BitConverter.SingleToUInt32Bits(f), 4));
                break;
            case byte[] b:
                WriteControl(4, b.Length);
                _data.AddRange(b);
                break;
            case ushort u16:
                WriteInteger(5, u16);
                break;
            case uint u32:
                WriteInteger(6, u32);
                break;
            case int i32 when i32 < 0:
                WriteControl(8, 4);
                _data.AddRange(BigEndian(unchecked((uint)i32), 4));
                break;
            case int i32:
                WriteInteger(8, (ulong)i32);
                break;
            case ulong u64:
                WriteInteger(9, u64);
                break;
            case UInt128 u128:
                {
                    var bytes = new byte[16];
                    BinaryPrimitives.WriteUInt128BigEndian(bytes, u128);
                    var skip = 0;
                    while (skip < 16 && bytes[skip] == 0) skip++;
                    WriteControl(10, 16 - skip);
                    _data.AddRange(bytes[skip..]);
                    break;
                }
            case bool flag:
                WriteControl(14, flag ? 1 : 0);
                break;
            case IDictionary<string, object?> map:
                WriteControl(7, map.Count);
                foreach (var (k, v) in map)
                {
                    WriteField(k, share);
                    WriteField(v, share);
                }
                break;
            case IList<object?> list:
                WriteControl(11, list.Count);
                foreach (var v in list) WriteField(v, share);
                break;
            default:
                throw new ArgumentException($"cannot write {value?.GetType().Name ?? "null"}");
        }
        if (key is not null) _written.TryAdd(key, start);
        return start;
    }

    private static bool Shareable(object? value) =>
        value is not (Raw or Container or EndMarker) && !(value is byte[] { Length: > 4096 });

    private void WriteInteger(int type, ulong value)
    {
        var bytes = BigEndian(value, 8);
        var skip = 0;
        while (skip < 8 && bytes[skip] == 0) skip++;
        WriteControl(type, 8 - skip);
        _data.AddRange(bytes[skip..]);
    }

    private void WriteControl(int type, int size)
    {
        int sizeBits;
        byte[] extra;
        if (size < 29) (sizeBits, extra) = (size, []);
        else if (size < 285) (sizeBits, extra) = (29, [(byte)(size - 29)]);
        else if (size < 65_821) (sizeBits, extra) = (30, BigEndian((ulong)(size - 285), 2));
        else (sizeBits, extra) = (31, BigEndian((ulong)(size - 65_821), 3));

        if (type <= 7)
        {
            _data.Add((byte)((type << 5) | sizeBits));
        }
        else
        {
            _data.Add((byte)sizeBits);
            _data.Add((byte)(type - 7));
        }
        _data.AddRange(extra);
    }

    private void WritePointer(long target)
    {
        var size = PointerSize is { } forced && Fits(forced, target) ? forced : Enumerable.Range(0, 4).First(s => Fits(s, target));
        PointersBySize[size]++;
        switch (size)
        {
            case 0:
                _data.AddRange([(byte)(0x20 | (target >> 8)), (byte)target]);
                break;
            case 1:
                {
                    var v = target - 2_048;
                    _data.AddRange([(byte)(0x28 | (v >> 16)), (byte)(v >> 8), (byte)v]);
                    break;
                }
            case 2:
                {
                    var v = target - 526_336;
                    _data.AddRange([(byte)(0x30 | (v >> 24)), (byte)(v >> 16), (byte)(v >> 8), (byte)v]);
                    break;
                }
            default:
                _data.Add(0x38);
                _data.AddRange(BigEndian((ulong)target, 4));
                break;
        }
    }

    private static bool Fits(int size, long target) => size switch
    {
        0 => target < 2_048,
        1 => target is >= 2_048 and < 2_048 + (1 << 19),
        2 => target is >= 526_336 and < 526_336 + (1L << 27),
        _ => target <= uint.MaxValue,
    };

    /// <summary>Pointer bytes for tests that hand-craft data (smallest form).</summary>
    public static byte[] Pointer(long target)
    {
        var writer = new MmdbWriter();
        writer.WritePointer(target);
        return [.. writer._data];
    }

    private static byte[] BigEndian(ulong value, int count)
    {
        var bytes = new byte[count];
        for (var i = count - 1; i >= 0; i--, value >>= 8) bytes[i] = (byte)value;
        return bytes;
    }

    /// <summary>Identity of a value for sharing: its encoding without pointers, plus its CLR type.</summary>
    private static string Key(object? value)
    {
        var writer = new MmdbWriter { SharePointers = false };
        writer.WriteField(value, share: false);
        return Convert.ToHexString([.. writer._data]);
    }

    private sealed class Node
    {
        public object? Left { get; set; }
        public object? Right { get; set; }

        public object? this[int bit]
        {
            get => bit == 0 ? Left : Right;
            set
            {
                if (bit == 0) Left = value;
                else Right = value;
            }
        }
    }

    private sealed record Leaf(object? Value, long? DataOffset);
}
