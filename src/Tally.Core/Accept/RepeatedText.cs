using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.Json;

namespace Tally.Core.Accept;

/// <summary>
/// Reads field values that repeat from event to event (items, countries, formats, referrers) as one string per
/// value instead of one per event: a batch or a file import then holds each value once, and the collector has
/// fewer objects to move while events wait to be stored. The pool is per thread, so readers never contend, and
/// bounded: it starts over when full.
/// </summary>
internal static class RepeatedText
{
    private const int MaxPooledLength = 128;
    private const int MaxPooled = 4096;

    [ThreadStatic] private static Dictionary<string, string>? t_pool;

    /// <summary>As <see cref="StoredText.TryRead"/>, for JSON that is valid UTF-8: an unescaped string then needs only its length checked.</summary>
    public static bool TryRead(ref Utf8JsonReader reader, int maxLength, [NotNullWhen(true)] out string? text, [NotNullWhen(false)] out string? problem)
    {
        if (reader.ValueIsEscaped || reader.ValueSpan.Length > MaxPooledLength) return StoredText.TryRead(ref reader, maxLength, out text, out problem);
        Span<char> chars = stackalloc char[MaxPooledLength];
        var value = chars[..Encoding.UTF8.GetChars(reader.ValueSpan, chars)];
        if (value.Length > maxLength)
        {
            (text, problem) = (null, StoredText.TooLong(maxLength));
            return false;
        }
        var pool = t_pool ??= new Dictionary<string, string>(StringComparer.Ordinal);
        if (!pool.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(value, out text))
        {
            if (pool.Count >= MaxPooled) pool.Clear();
            text = new string(value);
            pool.Add(text, text);
        }
        problem = null;
        return true;
    }
}
