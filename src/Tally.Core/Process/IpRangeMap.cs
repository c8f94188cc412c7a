using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace Tally.Core.Process;

/// <summary>
/// Maps IP addresses to values by ranges written as CIDR ("192.0.2.0/24", "2001:db8::/32"), single
/// addresses, or first-last ("192.0.2.10-192.0.2.20"). The most specific range wins, so a
/// department's /26 inside its university's /16 is attributed to the department.
/// </summary>
public sealed partial class IpRangeMap<T> where T : class
{
    // IPv4 lives in the IPv4-mapped IPv6 space, so one table serves both families.
    private static readonly UInt128 MappedBase = (UInt128)0xFFFF << 32;
    private readonly Dictionary<UInt128, T>[] _byPrefix = new Dictionary<UInt128, T>[129];
    private int[] _prefixesLongestFirst = [];

    /// <summary>Adds a range; throws <see cref="FormatException"/> with a readable reason when it is not one.</summary>
    public void Add(string range, T value)
    {
        foreach (var (network, prefix) in Parse(range))
        {
            var table = _byPrefix[prefix] ??= [];
            if (table.TryGetValue(network, out var existing) && !ReferenceEquals(existing, value))
                throw new FormatException($"'{range}' is already attributed to another entry");
            table[network] = value;
        }
        _prefixesLongestFirst = Enumerable.Range(0, 129).Where(p => _byPrefix[p] is not null).OrderDescending().ToArray();
    }

    public T? Find(IPAddress address)
    {
        var bits = ToBits(address);
        foreach (var prefix in _prefixesLongestFirst)
        {
            if (_byPrefix[prefix].TryGetValue(bits & Mask(prefix), out var value)) return value;
        }
        return null;
    }

    private static IEnumerable<(UInt128 Network, int Prefix)> Parse(string range)
    {
        var text = range.Trim();
        var dash = text.IndexOf('-', StringComparison.Ordinal);
        if (dash > 0)
        {
            var first = ParseAddress(text[..dash], range);
            var last = ParseAddress(text[(dash + 1)..], range);
            if (first.AddressFamily != last.AddressFamily) throw new FormatException($"'{range}' mixes IPv4 and IPv6");
            var (start, end) = (ToBits(first), ToBits(last));
            if (start > end) throw new FormatException($"'{range}' ends before it starts");
            return Decompose(start, end);
        }
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        var address = ParseAddress(slash < 0 ? text : text[..slash], range);
        var width = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        var length = width;
        if (slash >= 0 && (!int.TryParse(text[(slash + 1)..], System.Globalization.CultureInfo.InvariantCulture, out length) || length < 0 || length > width))
            throw new FormatException($"'{range}' has a prefix length outside 0-{width}");
        var prefix = length + (128 - width);
        var bits = ToBits(address);
        if ((bits & Mask(prefix)) != bits) throw new FormatException($"'{range}' has host bits set; did you mean {ToAddress(bits & Mask(prefix), width)}/{length}?");
        return [(bits, prefix)];
    }

    /// <summary>Splits [start, end] into the fewest aligned CIDR blocks.</summary>
    private static IEnumerable<(UInt128, int)> Decompose(UInt128 start, UInt128 end)
    {
        while (true)
        {
            // Grow the block while it stays aligned and inside the range; a /0 block would need a 2^128 span, so stop at /1.
            var size = 0;
            while (size < 127 && (start & Span(size + 1)) == 0 && end - start >= Span(size + 1)) size++;
            if (size == 127 && start == 0 && end == UInt128.MaxValue) size = 128;
            yield return (start, 128 - size);
            var blockEnd = start + Span(size);
            if (blockEnd >= end) yield break;
            start = blockEnd + 1;
        }
    }

    /// <summary>The last offset inside an aligned block of 2^size addresses.</summary>
    private static UInt128 Span(int size) => size >= 128 ? UInt128.MaxValue : (UInt128.One << size) - 1;

    /// <summary>Only full forms: IPAddress.TryParse also reads "10.0.0" or "1234" as some other address, which hides typos.</summary>
    private static IPAddress ParseAddress(string text, string range)
    {
        text = text.Trim();
        var fullForm = text.Contains(':', StringComparison.Ordinal) || DottedQuad().IsMatch(text);
        return fullForm && IPAddress.TryParse(text, out var address) ? address
            : throw new FormatException($"'{range}' is not an IP address (a.b.c.d or IPv6), CIDR range or first-last range");
    }

    [GeneratedRegex(@"^[0-9]{1,3}(\.[0-9]{1,3}){3}$")]
    private static partial Regex DottedQuad();

    private static UInt128 Mask(int prefix) => prefix == 0 ? UInt128.Zero : UInt128.MaxValue << (128 - prefix);

    private static UInt128 ToBits(IPAddress address)
    {
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            Span<byte> v4 = stackalloc byte[4];
            address.TryWriteBytes(v4, out _);
            return MappedBase | BinaryPrimitives.ReadUInt32BigEndian(v4);
        }
        Span<byte> v6 = stackalloc byte[16];
        address.TryWriteBytes(v6, out _);
        return BinaryPrimitives.ReadUInt128BigEndian(v6);
    }

    private static string ToAddress(UInt128 bits, int width)
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(bytes, bits);
        return new IPAddress(width == 32 ? bytes[12..] : bytes).ToString();
    }
}
