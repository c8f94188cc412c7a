using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Tally.Server.Tests;

/// <summary>What the HTTP tests share: the shape every error answer must have, and gzip bodies.</summary>
public static class HttpKit
{
    /// <summary>
    /// The answer is a problem of this status: application/problem+json, its "status" agreeing, naming
    /// <paramref name="field"/> in "errors" when given, and never quoting the JSON reader's internals.
    /// </summary>
    public static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode status, string? field = null)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement.Clone();
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        if (field is not null) Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), text);
        Assert.DoesNotContain("BytePositionInLine", text);
        Assert.DoesNotContain("LineNumber", text);
        return problem;
    }

    public static byte[] Gzip(string text)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest)) gzip.Write(Encoding.UTF8.GetBytes(text));
        return output.ToArray();
    }
}
