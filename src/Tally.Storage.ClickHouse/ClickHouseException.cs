using System.Text.RegularExpressions;

namespace Tally.Storage.ClickHouse;

/// <summary>
/// A statement ClickHouse refused, or a server that could not be reached. <see cref="Code"/> is
/// ClickHouse's own error code (60 unknown table, 62 syntax error, ...), null when no server answered.
/// </summary>
public sealed partial class ClickHouseException : Exception
{
    private const int MaxStatementInMessage = 500;

    public ClickHouseException(string message, Uri endpoint, int? code, string? statement, Exception? innerException = null)
        : base(message, innerException)
    {
        Endpoint = endpoint;
        Code = code;
        Statement = statement;
    }

    public Uri Endpoint { get; }
    public int? Code { get; }
    public string? Statement { get; }

    /// <summary>
    /// From an error body: "Code: 60, e.displayText() = DB::Exception: Table x doesn't exist., e.what() = DB::Exception"
    /// on 18.16, "Code: 60. DB::Exception: Table x does not exist. (UNKNOWN_TABLE) (version 23.8.1)" on current versions.
    /// </summary>
    internal static ClickHouseException FromServer(Uri endpoint, string? statement, string body, int? httpStatus = null)
    {
        var text = body.Trim();
        var code = CodePattern().Match(text) is { Success: true } match ? int.Parse(match.Groups[1].ValueSpan, provider: null) : (int?)null;
        var detail = DisplayText().Match(text) is { Success: true } display ? display.Groups[1].Value
            : code is not null ? CodePattern().Replace(text, "", 1) : text;
        var status = code is null && httpStatus is { } s ? $"HTTP {s}" : $"error {code}";
        return new ClickHouseException($"ClickHouse at {endpoint} answered {status}: {detail.Trim()}{Describe(statement)}", endpoint, code, statement);
    }

    internal static ClickHouseException Unreachable(Uri endpoint, string? statement, Exception cause) =>
        new($"ClickHouse at {endpoint} is unreachable: {cause.Message}{Describe(statement)}", endpoint, null, statement, cause);

    internal static ClickHouseException BadResponse(Uri endpoint, string? statement, string problem) =>
        new($"ClickHouse at {endpoint} sent a malformed response: {problem}{Describe(statement)}", endpoint, null, statement);

    private static string Describe(string? statement) =>
        statement is null ? "" : $" (statement: {(statement.Length > MaxStatementInMessage ? statement[..MaxStatementInMessage] + "…" : statement)})";

    /// <summary>True for a line that starts an error ClickHouse wrote into a response it had already begun streaming.</summary>
    internal static bool StartsError(ReadOnlySpan<char> line) => CodePattern().IsMatch(line) && line.Contains("Exception", StringComparison.Ordinal);

    [GeneratedRegex(@"^Code: (\d+)[.,] ")]
    private static partial Regex CodePattern();

    [GeneratedRegex(@"e\.displayText\(\) = (.*), e\.what\(\) = ", RegexOptions.Singleline)]
    private static partial Regex DisplayText();
}
