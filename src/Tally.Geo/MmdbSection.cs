using System.Buffers.Binary;
using System.Text;

namespace Tally.Geo;

/// <summary>
/// A stretch of the file made of MaxMind DB data fields (the data section, or the metadata), with the decoder for them.
/// Pointers in a section are relative to its start. Positions taken and returned are absolute (into the whole file);
/// every read is checked against the section's end, so a corrupt file gives <see cref="InvalidDatabaseException"/>
/// and never an out-of-range read.
/// </summary>
internal readonly struct MmdbSection
{
    /// <summary>Deeper nesting than this is taken for a pointer cycle (real records nest a handful of levels).</summary>
    internal const int MaxDepth = 512;

    /// <summary>A decode visiting more values than this is taken for pointers that multiply a record without end.</summary>
    internal const int MaxDecodedValues = 1_000_000;

    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    private readonly byte[] _bytes;
    private readonly string _databaseName;
    private readonly string _sectionName;

    public MmdbSection(byte[] bytes, int start, int end, string databaseName, string sectionName)
    {
        _bytes = bytes;
        Start = start;
        End = end;
        _databaseName = databaseName;
        _sectionName = sectionName;
    }

    /// <summary>Where the section starts in the file.</summary>
    public int Start { get; }

    /// <summary>Where the section ends in the file (exclusive).</summary>
    public int End { get; }

    public int Length => End - Start;

    public InvalidDatabaseException Error(string problem) => new(_databaseName, problem);

    /// <summary>Reads the control byte(s) of the field at <paramref name="pos"/> and leaves pos at its payload. For a
    /// pointer, <paramref name="size"/> is the absolute position it points to; for a map or array, the count of entries.</summary>
    public MmdbDataType ReadControl(ref int pos, out int size)
    {
        var at = pos;
        Need(pos, 1, "a field");
        int control = _bytes[pos++];
        var type = control >> 5;
        if (type == (int)MmdbDataType.Pointer)
        {
            size = ReadPointer(control, at, ref pos);
            return MmdbDataType.Pointer;
        }
        if (type == 0)
        {
            Need(pos, 1, "an extended type byte");
            int extended = _bytes[pos++];
            type = extended + 7;
            if (extended == 0 || type > (int)MmdbDataType.Float)
                throw Error($"unknown data type {type} (extended type byte {extended}) at {Where(at)}");
        }
        size = control & 0x1F;
        if (size >= 29)
        {
            var extra = size - 28;
            Need(pos, extra, "a field size");
            size = extra switch
            {
                1 => 29 + _bytes[pos],
                2 => 285 + ((_bytes[pos] << 8) | _bytes[pos + 1]),
                _ => 65_821 + ((_bytes[pos] << 16) | (_bytes[pos + 1] << 8) | _bytes[pos + 2]),
            };
            pos += extra;
        }
        return (MmdbDataType)type;
    }

    private int ReadPointer(int control, int at, ref int pos)
    {
        // 001SSVVV: SS + 1 bytes follow; VVV are the high bits of the value, except for the 4-byte form.
        var count = ((control >> 3) & 3) + 1;
        Need(pos, count, "a pointer");
        var b = _bytes;
        var high = control & 7;
        long target = count switch
        {
            1 => (high << 8) | b[pos],
            2 => ((high << 16) | (b[pos] << 8) | b[pos + 1]) + 2_048,
            3 => ((high << 24) | (b[pos] << 16) | (b[pos + 1] << 8) | b[pos + 2]) + 526_336L,
            _ => BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(pos, 4)),
        };
        pos += count;
        if (target >= Length)
            throw Error($"pointer at {Where(at)} points to offset {target}, beyond the end of the {_sectionName} ({Length} bytes)");
        return Start + (int)target;
    }

    /// <summary>The position of the value whose field starts at <paramref name="pos"/>: pos itself, or where the pointer
    /// there points (a pointer may not point to another pointer).</summary>
    public int Follow(int pos)
    {
        Need(pos, 1, "a field");
        if (_bytes[pos] >> 5 != (int)MmdbDataType.Pointer) return pos;
        var at = pos;
        ReadControl(ref pos, out var target);
        if (_bytes[target] >> 5 == (int)MmdbDataType.Pointer)
            throw Error($"pointer at {Where(at)} points to another pointer at {Where(target)}");
        return target;
    }

    /// <summary>The type of the field at <paramref name="pos"/> (a pointer is reported as such, not followed).</summary>
    public MmdbDataType TypeAt(int pos) => ReadControl(ref pos, out _);

    /// <summary>Moves <paramref name="pos"/> past one whole field; a pointer is skipped as its own bytes. Iterative: nested
    /// maps and arrays only add to the count of fields still to skip, and every field read consumes at least a byte.</summary>
    public void Skip(ref int pos)
    {
        long remaining = 1;
        while (remaining-- > 0)
        {
            var at = pos;
            var type = ReadControl(ref pos, out var size);
            switch (type)
            {
                case MmdbDataType.Pointer:
                case MmdbDataType.Boolean:
                    break;
                case MmdbDataType.Map:
                    remaining += 2L * size;
                    break;
                case MmdbDataType.Array:
                    remaining += size;
                    break;
                case MmdbDataType.DataCacheContainer:
                case MmdbDataType.EndMarker:
                    throw NotAValue(type, at);
                default:
                    Need(pos, size, Describe(type));
                    pos += size;
                    break;
            }
        }
    }

    /// <summary>For the map at <paramref name="mapPos"/>, the position of the value under <paramref name="key"/> (pointers
    /// followed), or -1 when the field is not a map or has no such key.</summary>
    public int FindKey(int mapPos, ReadOnlySpan<byte> key)
    {
        var pos = mapPos;
        if (ReadControl(ref pos, out var count) != MmdbDataType.Map) return -1;
        for (var i = 0; i < count; i++)
        {
            if (ReadKey(ref pos).SequenceEqual(key)) return Follow(pos);
            Skip(ref pos);
        }
        return -1;
    }

    /// <summary>For the array at <paramref name="arrayPos"/>, the position of element <paramref name="index"/> (pointers
    /// followed), or -1 when the field is not an array or is shorter.</summary>
    public int ElementAt(int arrayPos, int index)
    {
        var pos = arrayPos;
        if (index < 0 || ReadControl(ref pos, out var count) != MmdbDataType.Array || index >= count) return -1;
        for (var i = 0; i < index; i++) Skip(ref pos);
        return Follow(pos);
    }

    /// <summary>The number of pairs of a map or elements of an array at <paramref name="pos"/>; 0 for other types.</summary>
    public int CountAt(int pos) =>
        ReadControl(ref pos, out var size) is MmdbDataType.Map or MmdbDataType.Array ? size : 0;

    /// <summary>The bytes of the UTF-8 string at <paramref name="pos"/>, if the field there is one.</summary>
    public bool TryGetUtf8(int pos, out ReadOnlySpan<byte> utf8)
    {
        if (ReadControl(ref pos, out var size) != MmdbDataType.Utf8String)
        {
            utf8 = default;
            return false;
        }
        Need(pos, size, "a string");
        utf8 = _bytes.AsSpan(pos, size);
        return true;
    }

    /// <summary>The value of an unsigned integer field (or a non-negative int32) at <paramref name="pos"/>.</summary>
    public bool TryGetUInt64(int pos, out ulong value)
    {
        var at = pos;
        var type = ReadControl(ref pos, out var size);
        switch (type)
        {
            case MmdbDataType.UInt16:
            case MmdbDataType.UInt32:
            case MmdbDataType.UInt64:
                value = ReadUnsigned(ref pos, size, MaxBytes(type), type, at);
                return true;
            case MmdbDataType.Int32:
                var signed = ReadInt32(ref pos, size, at);
                value = (ulong)Math.Max(signed, 0);
                return signed >= 0;
            case MmdbDataType.UInt128:
                var wide = ReadUInt128(ref pos, size, at);
                value = (ulong)wide;
                return wide <= ulong.MaxValue;
            default:
                value = 0;
                return false;
        }
    }

    /// <summary>Decodes the whole field at <paramref name="pos"/> into plain objects and moves pos past it: map →
    /// <c>Dictionary&lt;string, object?&gt;</c>, array → <c>List&lt;object?&gt;</c>, string, double, float, byte[], ushort,
    /// uint, int, ulong, UInt128, bool.</summary>
    public object? Decode(ref int pos)
    {
        var budget = MaxDecodedValues;
        return Decode(ref pos, 0, ref budget);
    }

    private object? Decode(ref int pos, int depth, ref int budget)
    {
        if (--budget < 0)
            throw Error($"a record at {Where(pos)} expands to more than {MaxDecodedValues} values: its pointers form a cycle or the data is corrupt");
        var at = pos;
        var type = ReadControl(ref pos, out var size);
        if (type != MmdbDataType.Pointer) return DecodePayload(type, size, ref pos, at, depth, ref budget);

        // pos stays after the pointer: the next field follows it, not what it points to.
        var target = size;
        var inner = target;
        type = ReadControl(ref inner, out size);
        if (type == MmdbDataType.Pointer) throw Error($"pointer at {Where(at)} points to another pointer at {Where(target)}");
        return DecodePayload(type, size, ref inner, target, depth, ref budget);
    }

    private object? DecodePayload(MmdbDataType type, int size, ref int pos, int at, int depth, ref int budget)
    {
        switch (type)
        {
            case MmdbDataType.Utf8String:
                {
                    Need(pos, size, "a string");
                    var text = Utf8.GetString(_bytes, pos, size);
                    pos += size;
                    return text;
                }
            case MmdbDataType.Double:
                {
                    ExpectSize(type, size, 8, at);
                    Need(pos, 8, "a double");
                    var value = BinaryPrimitives.ReadDoubleBigEndian(_bytes.AsSpan(pos, 8));
                    pos += 8;
                    return value;
                }
            case MmdbDataType.Float:
                {
                    ExpectSize(type, size, 4, at);
                    Need(pos, 4, "a float");
                    var value = BinaryPrimitives.ReadSingleBigEndian(_bytes.AsSpan(pos, 4));
                    pos += 4;
                    return value;
                }
            case MmdbDataType.Bytes:
                {
                    Need(pos, size, "a byte sequence");
                    var value = _bytes.AsSpan(pos, size).ToArray();
                    pos += size;
                    return value;
                }
            case MmdbDataType.UInt16:
                return (ushort)ReadUnsigned(ref pos, size, 2, type, at);
            case MmdbDataType.UInt32:
                return (uint)ReadUnsigned(ref pos, size, 4, type, at);
            case MmdbDataType.Int32:
                return ReadInt32(ref pos, size, at);
            case MmdbDataType.UInt64:
                return ReadUnsigned(ref pos, size, 8, type, at);
            case MmdbDataType.UInt128:
                return ReadUInt128(ref pos, size, at);
            case MmdbDataType.Boolean:
                if (size > 1) throw Error($"boolean at {Where(at)} has size {size}; only 0 (false) and 1 (true) are valid");
                return size == 1;
            case MmdbDataType.Map:
                {
                    CheckDepth(depth, at);
                    // Capacity from the data left, not the claimed count: a corrupt count must not allocate gigabytes.
                    var map = new Dictionary<string, object?>(Math.Min(size, (End - pos) / 2), StringComparer.Ordinal);
                    for (var i = 0; i < size; i++)
                    {
                        var key = Utf8.GetString(ReadKey(ref pos));
                        map[key] = Decode(ref pos, depth + 1, ref budget);
                    }
                    return map;
                }
            case MmdbDataType.Array:
                {
                    CheckDepth(depth, at);
                    var list = new List<object?>(Math.Min(size, End - pos));
                    for (var i = 0; i < size; i++) list.Add(Decode(ref pos, depth + 1, ref budget));
                    return list;
                }
            default:
                throw NotAValue(type, at);
        }
    }

    /// <summary>A map key at <paramref name="pos"/> (a string, or a pointer to one), moving pos past it.</summary>
    private ReadOnlySpan<byte> ReadKey(ref int pos)
    {
        var at = pos;
        var type = ReadControl(ref pos, out var size);
        var payload = pos;
        var inline = type != MmdbDataType.Pointer;
        if (!inline)
        {
            payload = size;
            type = ReadControl(ref payload, out size);
            if (type == MmdbDataType.Pointer) throw Error($"pointer at {Where(at)} points to another pointer");
        }
        if (type != MmdbDataType.Utf8String) throw Error($"map key at {Where(at)} is {Describe(type)}; keys must be strings");
        Need(payload, size, "a map key");
        if (inline) pos += size;
        return _bytes.AsSpan(payload, size);
    }

    private ulong ReadUnsigned(ref int pos, int size, int maxBytes, MmdbDataType type, int at)
    {
        if (size > maxBytes) throw Error($"{Describe(type)} at {Where(at)} is {size} bytes long; at most {maxBytes} are valid");
        Need(pos, size, Describe(type));
        ulong value = 0;
        for (var i = 0; i < size; i++) value = (value << 8) | _bytes[pos + i];
        pos += size;
        return value;
    }

    private int ReadInt32(ref int pos, int size, int at)
    {
        // Shorter than 4 bytes is always positive; at 4 bytes the top bit is the sign (two's complement).
        var value = ReadUnsigned(ref pos, size, 4, MmdbDataType.Int32, at);
        return unchecked((int)(uint)value);
    }

    private UInt128 ReadUInt128(ref int pos, int size, int at)
    {
        if (size > 16) throw Error($"uint128 at {Where(at)} is {size} bytes long; at most 16 are valid");
        Need(pos, size, "a uint128");
        UInt128 value = 0;
        for (var i = 0; i < size; i++) value = (value << 8) | _bytes[pos + i];
        pos += size;
        return value;
    }

    private static int MaxBytes(MmdbDataType type) => type switch
    {
        MmdbDataType.UInt16 => 2,
        MmdbDataType.UInt32 or MmdbDataType.Int32 => 4,
        MmdbDataType.UInt64 => 8,
        _ => 16,
    };

    private void ExpectSize(MmdbDataType type, int size, int expected, int at)
    {
        if (size != expected) throw Error($"{Describe(type)} at {Where(at)} has size {size}; it must be {expected}");
    }

    private void CheckDepth(int depth, int at)
    {
        if (depth >= MaxDepth)
            throw Error($"data at {Where(at)} is nested more than {MaxDepth} levels deep: its pointers form a cycle or the data is corrupt");
    }

    private InvalidDatabaseException NotAValue(MmdbDataType type, int at) =>
        Error($"{Describe(type)} at {Where(at)} where a value was expected");

    private void Need(int pos, int count, string what)
    {
        if ((uint)pos > (uint)End || (uint)count > (uint)(End - pos))
            throw Error($"{what} at {Where(pos)} runs past the end of the {_sectionName} ({Length} bytes): the file is truncated or corrupt");
    }

    private string Where(int pos) => $"{_sectionName} offset {pos - Start}";

    internal static string Describe(MmdbDataType type) => type switch
    {
        MmdbDataType.Pointer => "a pointer",
        MmdbDataType.Utf8String => "a string",
        MmdbDataType.Double => "a double",
        MmdbDataType.Bytes => "a byte sequence",
        MmdbDataType.UInt16 => "a uint16",
        MmdbDataType.UInt32 => "a uint32",
        MmdbDataType.Map => "a map",
        MmdbDataType.Int32 => "an int32",
        MmdbDataType.UInt64 => "a uint64",
        MmdbDataType.UInt128 => "a uint128",
        MmdbDataType.Array => "an array",
        MmdbDataType.DataCacheContainer => "a data cache container",
        MmdbDataType.EndMarker => "an end marker",
        MmdbDataType.Boolean => "a boolean",
        MmdbDataType.Float => "a float",
        _ => $"type {(int)type}",
    };
}
