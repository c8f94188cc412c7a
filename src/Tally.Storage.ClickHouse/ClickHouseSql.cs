using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Tally.Storage.ClickHouse;

/// <summary>
/// Literals and identifiers written into statements. ClickHouse 18.16 has no query parameters, so
/// every value that reaches SQL goes through here.
/// </summary>
public static partial class ClickHouseSql
{
    /// <summary>The Dates ClickHouse 18.16 reads and writes as text (its date tables end with 2105).</summary>
    internal static readonly DateOnly FirstDate = new(1970, 1, 1), LastDate = new(2105, 12, 31);

    /// <summary>
    /// A string literal: backslash and quote are escaped with a backslash, as are control characters,
    /// so the literal is one line and nothing in the value can end it early.
    /// </summary>
    public static string Quote(string value)
    {
        var sql = new StringBuilder(value.Length + 2).Append('\'');
        foreach (var c in value)
        {
            _ = c switch
            {
                '\\' => sql.Append(@"\\"),
                '\'' => sql.Append(@"\'"),
                '\n' => sql.Append(@"\n"),
                '\r' => sql.Append(@"\r"),
                '\t' => sql.Append(@"\t"),
                '\0' => sql.Append(@"\0"),
                < ' ' or '\x7F' => sql.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:X2}"),
                _ => sql.Append(c),
            };
        }
        return sql.Append('\'').ToString();
    }

    /// <summary>A Date literal. Dates beyond what ClickHouse's Date holds are clamped, which keeps range bounds such as DateOnly.MinValue meaningful.</summary>
    public static string Quote(DateOnly day)
    {
        var clamped = day < FirstDate ? FirstDate : day > LastDate ? LastDate : day;
        return clamped.ToString("\\'yyyy-MM-dd\\'", CultureInfo.InvariantCulture);
    }

    /// <summary>A comma-separated list of string literals, for IN (...).</summary>
    public static string List(IEnumerable<string> values) => string.Join(", ", values.Select(Quote));

    public static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    public static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Returns <paramref name="name"/> when it is a plain identifier (letters, digits, '_', not starting with a digit); throws otherwise.</summary>
    public static string Identifier(string name) =>
        IdentifierPattern().IsMatch(name) ? name : throw new ArgumentException($"'{name}' is not a plain identifier (letters, digits and '_', not starting with a digit)", nameof(name));

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex IdentifierPattern();
}
