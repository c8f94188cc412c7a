using System.Text;

namespace Tally.Geo;

/// <summary>
/// A value in a MaxMind DB's data section, by position: nothing is decoded until asked, so walking a record by keys
/// (<c>record.Get("country"u8).Get("iso_code"u8).AsString()</c>) allocates only the final result. A missing value
/// (<c>default</c>, or the result of a key or index that is not there) answers every question with "nothing".
/// </summary>
public readonly record struct MmdbValue
{
    private readonly MaxMindDatabase? _database;
    private readonly int _position;

    internal MmdbValue(MaxMindDatabase database, int position)
    {
        _database = database;
        _position = position;
    }

    /// <summary>False for the missing value.</summary>
    public bool Exists => _database is not null;

    /// <summary>The value's type; <see cref="MmdbDataType.None"/> when missing (pointers are already followed).</summary>
    public MmdbDataType Type => _database is null ? MmdbDataType.None : _database.Data.TypeAt(_position);

    /// <summary>Where the value is, from the start of the data section; -1 when missing. Records with the same offset
    /// are the same record, which makes this a good cache key.</summary>
    public int Offset => _database is null ? -1 : _position - _database.Data.Start;

    /// <summary>The number of pairs of a map or elements of an array; 0 otherwise.</summary>
    public int Count => _database is null ? 0 : _database.Data.CountAt(_position);

    /// <summary>The value under a key of this map (UTF-8 key bytes: use a u8 literal); missing when this is not a map or
    /// has no such key.</summary>
    public MmdbValue Get(ReadOnlySpan<byte> utf8Key)
    {
        if (_database is null) return default;
        var position = _database.Data.FindKey(_position, utf8Key);
        return position < 0 ? default : new MmdbValue(_database, position);
    }

    /// <summary>The value under a key of this map; missing when this is not a map or has no such key.</summary>
    public MmdbValue Get(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (_database is null) return default;
        var max = Encoding.UTF8.GetMaxByteCount(key.Length);
        Span<byte> utf8 = max <= 256 ? stackalloc byte[max] : new byte[max];
        return Get(utf8[..Encoding.UTF8.GetBytes(key, utf8)]);
    }

    /// <summary>Element <paramref name="index"/> of this array; missing when this is not an array or is shorter.</summary>
    public MmdbValue At(int index)
    {
        if (_database is null) return default;
        var position = _database.Data.ElementAt(_position, index);
        return position < 0 ? default : new MmdbValue(_database, position);
    }

    /// <summary>The string, or null when this is not a string.</summary>
    public string? AsString() =>
        _database is not null && _database.Data.TryGetUtf8(_position, out var utf8) ? Encoding.UTF8.GetString(utf8) : null;

    /// <summary>The UTF-8 bytes of a string without decoding them.</summary>
    public bool TryGetUtf8(out ReadOnlySpan<byte> utf8)
    {
        if (_database is not null) return _database.Data.TryGetUtf8(_position, out utf8);
        utf8 = default;
        return false;
    }

    /// <summary>The number, for uint16, uint32, uint64, a non-negative int32, or a uint128 that fits; otherwise null.</summary>
    public ulong? AsUInt64() => _database is not null && _database.Data.TryGetUInt64(_position, out var value) ? value : null;

    /// <summary>The whole value as plain objects; see <see cref="MaxMindDatabase.Decode(int)"/> for the types.</summary>
    public object? Decode()
    {
        if (_database is null) return null;
        var position = _position;
        return _database.Data.Decode(ref position);
    }

    public override string ToString() => Exists ? $"{Type} at data offset {Offset}" : "(missing)";
}
