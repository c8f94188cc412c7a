using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using Tally.Core.Aggregate;

namespace Tally.Storage.ClickHouse;

/// <summary>
/// One row of a TabSeparated result. Rows are read straight from the response stream and this
/// object is reused: its values are valid only until the next row is read.
/// </summary>
public sealed class ClickHouseRow : IMeasureColumns
{
    private readonly List<int> _starts = [];
    private readonly List<int> _ends = [];
    private byte[] _line = [];
    private int _offset;
    private byte[] _unescaped = new byte[256];

    public int FieldCount => _starts.Count;

    public bool IsNull(int field) => Field(field) is [(byte)'\\', (byte)'N'];

    public string GetString(int field)
    {
        var raw = Field(field);
        if (raw.IndexOf((byte)'\\') < 0) return Encoding.UTF8.GetString(raw);
        if (_unescaped.Length < raw.Length) _unescaped = new byte[raw.Length * 2];
        return Encoding.UTF8.GetString(_unescaped, 0, Unescape(raw, _unescaped));
    }

    public string? GetNullableString(int field) => IsNull(field) ? null : GetString(field);

    public long GetInt64(int field) => Utf8Parser.TryParse(Field(field), out long value, out var used) && used == Field(field).Length
        ? value : throw NotA("Int64", field);

    public ulong GetUInt64(int field) => Utf8Parser.TryParse(Field(field), out ulong value, out var used) && used == Field(field).Length
        ? value : throw NotA("UInt64", field);

    public double GetDouble(int field) => Field(field) switch
    {
        [(byte)'n', (byte)'a', (byte)'n'] or [(byte)'-', (byte)'n', (byte)'a', (byte)'n'] => double.NaN,
        [(byte)'i', (byte)'n', (byte)'f'] or [(byte)'+', (byte)'i', (byte)'n', (byte)'f'] => double.PositiveInfinity,
        [(byte)'-', (byte)'i', (byte)'n', (byte)'f'] => double.NegativeInfinity,
        var raw => double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value : throw NotA("Float64", field),
    };

    /// <summary>A Date, written YYYY-MM-DD.</summary>
    public DateOnly GetDate(int field) =>
        Field(field) is { Length: 10 } raw && Utf8Parser.TryParse(raw[..4], out int year, out _) && Utf8Parser.TryParse(raw[5..7], out int month, out _)
        && Utf8Parser.TryParse(raw[8..], out int day, out _) && year >= 1
            ? new DateOnly(year, month, day)
            : throw NotA("Date", field);

    private ReadOnlySpan<byte> Field(int field)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(field, FieldCount);
        return _line.AsSpan(_offset + _starts[field], _ends[field] - _starts[field]);
    }

    private FormatException NotA(string type, int field) =>
        new($"column {field} is not a {type}: '{Encoding.UTF8.GetString(Field(field))}'");

    /// <summary>Points the row at one line (without its newline) and finds its tab-separated fields.</summary>
    private void Load(byte[] buffer, int offset, int length)
    {
        _line = buffer;
        _offset = offset;
        _starts.Clear();
        _ends.Clear();
        var line = buffer.AsSpan(offset, length);
        var start = 0;
        while (true)
        {
            var tab = line[start..].IndexOf((byte)'\t');
            _starts.Add(start);
            if (tab < 0) break;
            _ends.Add(start + tab);
            start += tab + 1;
        }
        _ends.Add(length);
    }

    /// <summary>Undoes the TabSeparated escaping: \b \f \n \r \t \0 \a \v, \xHH, and a backslash before any other character.</summary>
    internal static int Unescape(ReadOnlySpan<byte> raw, Span<byte> target)
    {
        var written = 0;
        for (var i = 0; i < raw.Length; i++)
        {
            var b = raw[i];
            if (b != (byte)'\\' || i + 1 == raw.Length)
            {
                target[written++] = b;
                continue;
            }
            var next = raw[++i];
            if (next == (byte)'x' && i + 2 < raw.Length && Utf8Parser.TryParse(raw.Slice(i + 1, 2), out byte hex, out var used, 'x') && used == 2)
            {
                target[written++] = hex;
                i += 2;
                continue;
            }
            target[written++] = next switch
            {
                (byte)'b' => (byte)'\b',
                (byte)'f' => (byte)'\f',
                (byte)'n' => (byte)'\n',
                (byte)'r' => (byte)'\r',
                (byte)'t' => (byte)'\t',
                (byte)'0' => 0,
                (byte)'a' => 7,
                (byte)'v' => 11,
                _ => next,
            };
        }
        return written;
    }

    /// <summary>
    /// Reads a TabSeparated response row by row. ClickHouse reports an error that occurs after it began
    /// streaming by appending the error text to the body of a 200 response; that becomes an exception.
    /// </summary>
    internal static async IAsyncEnumerable<ClickHouseRow> ReadAsync(
        Stream stream, Func<string, Exception> serverError, Func<string, Exception> malformed, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        var row = new ClickHouseRow();
        var (start, end) = (0, 0);
        try
        {
            while (true)
            {
                var newline = buffer.AsSpan(start, end - start).IndexOf((byte)'\n');
                if (newline >= 0)
                {
                    if (IsErrorStart(buffer.AsSpan(start, newline)))
                        throw serverError(await RestAsTextAsync(stream, buffer.AsMemory(start, end - start), cancellationToken));
                    row.Load(buffer, start, newline);
                    start += newline + 1;
                    yield return row;
                    continue;
                }
                if (start > 0)
                {
                    buffer.AsSpan(start, end - start).CopyTo(buffer);
                    (start, end) = (0, end - start);
                }
                if (end == buffer.Length)
                {
                    var larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    buffer.AsSpan(0, end).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }
                var read = await stream.ReadAsync(buffer.AsMemory(end), cancellationToken);
                if (read > 0)
                {
                    end += read;
                    continue;
                }
                if (end == start) yield break;
                var rest = Encoding.UTF8.GetString(buffer, start, end - start);
                throw IsErrorStart(buffer.AsSpan(start, end - start)) ? serverError(rest) : malformed($"the last row has no end: '{rest}'");
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static bool IsErrorStart(ReadOnlySpan<byte> line) =>
        line.StartsWith("Code: "u8) && ClickHouseException.StartsError(Encoding.UTF8.GetString(line[..Math.Min(line.Length, 4096)]));

    private static async Task<string> RestAsTextAsync(Stream stream, ReadOnlyMemory<byte> buffered, CancellationToken cancellationToken)
    {
        using var rest = new MemoryStream();
        rest.Write(buffered.Span);
        await stream.CopyToAsync(rest, cancellationToken);
        return Encoding.UTF8.GetString(rest.GetBuffer(), 0, (int)rest.Length);
    }
}
