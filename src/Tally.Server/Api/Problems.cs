using Microsoft.AspNetCore.Http;

namespace Tally.Server.Api;

public static class Problems
{
    /// <summary>A 400 application/problem+json whose "errors" names the offending field or parameter.</summary>
    public static IResult Field(string field, string problem) =>
        Results.ValidationProblem(new Dictionary<string, string[]> { [field] = [problem] }, detail: $"'{field}' {problem}");
}
