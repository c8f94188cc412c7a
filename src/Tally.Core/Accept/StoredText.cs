using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Unicode;

namespace Tally.Core.Accept;

/// <summary>
/// The rule for every text Tally stores, checked at the door so that whatever is stored can be read back
/// and written out again by every engine: valid Unicode (no lone surrogate), no NUL, and bounded length.
/// </summary>
public static class StoredText
{
    public const string NulProblem = "must not contain the NUL character (\\u0000)";
    public const string SurrogateProblem = "is not valid Unicode (it holds a lone surrogate)";

    /// <summary>A client's value as an error message quotes it: cut short, so a huge value never makes a huge answer.</summary>
    public static string Echo(string value) => value.Length <= 64 ? value : string.Concat(value.AsSpan(0, 64), "…");

    /// <summary>Why <paramref name="text"/> cannot be stored, or null.</summary>
    public static string? Problem(ReadOnlySpan<char> text, int maxLength)
    {
        if (text.Length > maxLength) return TooLong(maxLength);
        if (text.Contains('\0')) return NulProblem;
        for (var i = text.IndexOfAnyInRange('\uD800', '\uDFFF'); i >= 0 && i < text.Length; i++)
        {
            if (!char.IsSurrogate(text[i])) continue;
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) i++;
            else return SurrogateProblem;
        }
        return null;
    }

    /// <summary>
    /// Reads the string under the reader, or says why it cannot be stored (an escape that is not text, NUL,
    /// length). The JSON must be valid UTF-8: then only an escaped string can hold NUL or a lone surrogate,
    /// and an unescaped one needs only its length checked.
    /// </summary>
    public static bool TryRead(ref Utf8JsonReader reader, int maxLength, [NotNullWhen(true)] out string? text, [NotNullWhen(false)] out string? problem)
    {
        text = null;
        // Cheap early refusal before decoding: UTF-8 needs at most 3 bytes per UTF-16 character.
        if (!reader.ValueIsEscaped && reader.ValueSpan.Length > 3L * maxLength)
        {
            problem = TooLong(maxLength);
            return false;
        }
        string decoded;
        try { decoded = reader.GetString()!; }
        catch (InvalidOperationException)
        {
            problem = SurrogateProblem;
            return false;
        }
        problem = reader.ValueIsEscaped ? Problem(decoded, maxLength) : decoded.Length > maxLength ? TooLong(maxLength) : null;
        if (problem is not null) return false;
        text = decoded;
        return true;
    }

    internal static string TooLong(int maxLength) => $"is longer than {maxLength} characters";

    /// <summary>
    /// The first string or property name of a parsed JSON body that cannot be stored, as (path, problem);
    /// for bodies kept as given (item metadata, saved queries).
    /// </summary>
    public static (string Path, string Problem)? FindInvalid(JsonElement element, int maxLength, string path = "")
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                return Checked(() => element.GetString()!, path, maxLength);
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    if (Checked(() => property.Name, path, maxLength) is { } badName) return badName;
                    var inner = FindInvalid(property.Value, maxLength, path.Length == 0 ? property.Name : $"{path}.{property.Name}");
                    if (inner is not null) return inner;
                }
                return null;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in element.EnumerateArray())
                {
                    if (FindInvalid(item, maxLength, $"{path}[{i++}]") is { } inner) return inner;
                }
                return null;
            default:
                return null;
        }
    }

    private static (string, string)? Checked(Func<string> text, string path, int maxLength)
    {
        try { return Problem(text(), maxLength) is { } problem ? (Where(path), problem) : null; }
        catch (InvalidOperationException) { return (Where(path), SurrogateProblem); }
    }

    private static string Where(string path) => path.Length == 0 ? "body" : path;

    /// <summary>
    /// An address as an IP field would hold it: four dotted decimal octets, or IPv6. Strict, so that
    /// versions and times ("10:15:00") are not taken for addresses.
    /// </summary>
    public static bool IsIpAddress(ReadOnlySpan<char> text)
    {
        if (text.Length is < 2 or > 45) return false;
        if (text.Contains(':'))
        {
            // Most values with a colon are urls or times: a character no address has rules them out before parsing.
            var beforeZone = text.IndexOf('%') is >= 0 and var zone ? text[..zone] : text;
            return !beforeZone.ContainsAnyExcept(Ipv6Characters)
                && System.Net.IPAddress.TryParse(text, out var v6) && v6.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
        }
        if (text.ContainsAnyExcept(Ipv4Characters)) return false;
        var parts = 0;
        foreach (var range in text.Split('.'))
        {
            var part = text[range];
            if (++parts > 4 || part.Length is 0 or > 3 || !int.TryParse(part, System.Globalization.NumberStyles.None, null, out var octet) || octet > 255) return false;
        }
        return parts == 4;
    }

    private static readonly SearchValues<char> Ipv4Characters = SearchValues.Create("0123456789.");
    private static readonly SearchValues<char> Ipv6Characters = SearchValues.Create("0123456789abcdefABCDEF:.");

    /// <summary>The first byte offset of <paramref name="bytes"/> that is not valid UTF-8, or -1.</summary>
    public static int InvalidUtf8At(ReadOnlySpan<byte> bytes)
    {
        if (Utf8.IsValid(bytes)) return -1;
        Span<char> sink = stackalloc char[256];
        var offset = 0;
        while (true)
        {
            var status = Utf8.ToUtf16(bytes[offset..], sink, out var read, out _, replaceInvalidSequences: false);
            offset += read;
            if (status == System.Buffers.OperationStatus.InvalidData || status == System.Buffers.OperationStatus.NeedMoreData) return offset;
            if (status == System.Buffers.OperationStatus.Done) return -1;
        }
    }
}
