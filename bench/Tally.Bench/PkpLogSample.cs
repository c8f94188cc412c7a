using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Tally.Bench;

/// <summary>
/// A realistic PKP usage-event log (OJS, as PKP's LogUsageEvent writes it) for the import benchmark: returning readers
/// with salted-hash addresses, a long tail of articles, abstracts, galleys, supplementary files, issue
/// and homepage views, and a share of crawlers.
/// </summary>
public static class PkpLogSample
{
    private static readonly string[] Agents =
    [
        @"Mozilla\/5.0 (X11; Ubuntu; Linux x86_64; rv:109.0) Gecko\/20100101 Firefox\/110.0",
        @"Mozilla\/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit\/537.36 (KHTML, like Gecko) Chrome\/130.0.0.0 Safari\/537.36",
        @"Mozilla\/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit\/605.1.15 (KHTML, like Gecko) Version\/17.5 Safari\/605.1.15",
        @"Mozilla\/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit\/605.1.15 (KHTML, like Gecko) Version\/17.5 Mobile\/15E148 Safari\/604.1",
        @"Mozilla\/5.0 (compatible; Googlebot\/2.1; +http:\/\/www.google.com\/bot.html)",
    ];

    /// <summary>Writes <paramref name="lines"/> lines of one day's log to <paramref name="path"/>.</summary>
    public static async Task WriteAsync(string path, int lines, DateTime day, CancellationToken cancellationToken)
    {
        var random = new Random(42);
        var readers = Enumerable.Range(0, Math.Max(100, lines / 20))
            .Select(r => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"reader-{r}")))).ToArray();
        await using var writer = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 20);
        var step = 86_000.0 / lines;
        for (var i = 0; i < lines; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var time = day.AddSeconds(i * step);
            var reader = readers[random.Next(readers.Length)];
            var agent = Agents[random.Next(100) < 4 ? 4 : random.Next(4)];
            // A long tail: a few articles are read a lot.
            var submission = 1 + (int)Math.Min(20_000, Math.Pow(random.NextDouble(), 3) * 20_000);
            var kind = random.Next(100);
            var (assocType, file, fileType, issue) = kind switch
            {
                < 10 => (0x100, "null", "null", "null"),
                < 15 => (0x103, "null", "null", (1 + submission % 40).ToString(CultureInfo.InvariantCulture)),
                < 60 => (0x100009, "null", "null", "null"),
                < 95 => (0x203, (submission * 3).ToString(CultureInfo.InvariantCulture), random.Next(3) == 0 ? "1" : "2", "null"),
                _ => (0x213, (submission * 3 + 1).ToString(CultureInfo.InvariantCulture), "3", "null"),
            };
            var article = assocType is 0x100 or 0x103 ? "null" : submission.ToString(CultureInfo.InvariantCulture);
            await writer.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $$"""{"time":"{{time:yyyy-MM-dd HH:mm:ss}}","ip":"{{reader}}","userAgent":"{{agent}}","canonicalUrl":"https:\/\/journals.example.org\/index.php\/pk\/article\/view\/{{article}}","assocType":{{assocType}},"contextId":1,"submissionId":{{article}},"representationId":{{(file == "null" ? "null" : "1")}},"submissionFileId":{{file}},"fileType":{{fileType}},"country":"{{(reader[0] < 'a' ? "DE" : "US")}}","region":null,"city":null,"institutionIds":[],"version":"","issueId":{{issue}},"issueGalleyId":null}"""));
        }
    }
}
