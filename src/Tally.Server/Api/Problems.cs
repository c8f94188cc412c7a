using Microsoft.AspNetCore.Http;

namespace Tally.Server.Api;

public static class Problems
{
    /// <summary>An application/problem+json (400 unless said otherwise) whose "errors" names the offending field or parameter.</summary>
    public static IResult Field(string field, string problem, int status = StatusCodes.Status400BadRequest) =>
        Results.ValidationProblem(new Dictionary<string, string[]> { [field] = [problem] }, detail: $"'{field}' {problem}", statusCode: status,
            title: status == StatusCodes.Status400BadRequest ? null : Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status));
}
