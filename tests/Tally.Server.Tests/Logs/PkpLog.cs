using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Tally.Server.Tests.Logs;

/// <summary>One visit as PKP's LogUsageEvent records it, and the same visit as a Tally event sent over HTTP.</summary>
public sealed record PkpVisit(DateTime Time, string Reader, string UserAgent, int AssocType, int? SubmissionId = null, int? FileId = null, int? FileType = null, int? IssueId = null)
{
    public const string Firefox = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/110.0";
    public const string Safari = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";
    public const string Googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

    /// <summary>PKP writes a salted hash in place of the address; Tally takes it as it is.</summary>
    public string IpHash => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("pkp-salt:" + Reader)));

    private static string Json(int? value) => value?.ToString(CultureInfo.InvariantCulture) ?? "null";

    public string LogLine() => string.Create(CultureInfo.InvariantCulture,
        $$"""{"time":"{{Time:yyyy-MM-dd HH:mm:ss}}","ip":"{{IpHash}}","userAgent":"{{UserAgent.Replace("/", "\\/", StringComparison.Ordinal)}}","canonicalUrl":"https:\/\/journal.example\/index.php\/pk\/article\/view\/{{Json(SubmissionId)}}","assocType":{{AssocType}},"contextId":1,"submissionId":{{Json(SubmissionId)}},"representationId":{{(FileId is null ? "null" : "1")}},"submissionFileId":{{Json(FileId)}},"fileType":{{Json(FileType)}},"country":"DE","region":null,"city":null,"institutionIds":[],"version":"","issueId":{{Json(IssueId)}},"issueGalleyId":null}""");

    /// <summary>The same visit as a client would POST it, with what PKP's mapping documents for each kind.</summary>
    public string HttpEvent(string id)
    {
        var (type, item) = AssocType switch
        {
            0x100 => ("context-view", "context/1"),
            0x103 => ("issue-view", $"issue/{IssueId}"),
            0x100009 => ("record-view", $"submission/{SubmissionId}"),
            0x203 => ("file-download", $"submission/{SubmissionId}"),
            0x213 => ("supplementary-download", $"submission/{SubmissionId}"),
            _ => throw new InvalidOperationException($"no HTTP equivalent for assocType {AssocType}"),
        };
        var article = SubmissionId is null ? "" : ""","title_id":"context/1","data_type":"Article","parent_data_type":"Journal" """.TrimEnd();
        var format = FileType switch { 1 => ""","format":"html" """.TrimEnd(), 2 => ""","format":"pdf" """.TrimEnd(), 3 => ""","format":"other" """.TrimEnd(), _ => "" };
        return string.Create(CultureInfo.InvariantCulture,
            $$"""{"type":"{{type}}","id":"{{id}}","timestamp":"{{Time:yyyy-MM-ddTHH:mm:ssZ}}","item_id":"{{item}}","ip":"{{IpHash}}","user_agent":"{{UserAgent}}","country":"DE"{{article}}{{format}}}""");
    }

    /// <summary>
    /// A day of a small journal: readers open the homepage, an issue, abstracts, PDFs (some double-clicked
    /// within 30 s), supplementary files; a crawler fetches PDFs too.
    /// </summary>
    public static List<PkpVisit> Day(DateTime day, int readers, int seed = 7)
    {
        var random = new Random(seed);
        var visits = new List<PkpVisit>();
        for (var r = 0; r < readers; r++)
        {
            var reader = $"reader-{r}";
            var agent = r % 9 == 8 ? Googlebot : r % 2 == 0 ? Firefox : Safari;
            var time = day.AddSeconds(random.Next(0, 20 * 3600));
            visits.Add(new PkpVisit(time, reader, agent, 0x100));
            if (r % 4 == 0) visits.Add(new PkpVisit(time = time.AddSeconds(20), reader, agent, 0x103, IssueId: 1 + r % 2));
            for (var k = 0; k < 1 + random.Next(3); k++)
            {
                var submission = 1 + random.Next(8);
                visits.Add(new PkpVisit(time = time.AddSeconds(40 + random.Next(200)), reader, agent, 0x100009, submission));
                if (random.Next(3) > 0)
                {
                    var fileType = 1 + random.Next(2);
                    visits.Add(new PkpVisit(time = time.AddSeconds(60 + random.Next(300)), reader, agent, 0x203, submission, 100 + submission, fileType));
                    if (random.Next(4) == 0) visits.Add(new PkpVisit(time = time.AddSeconds(5), reader, agent, 0x203, submission, 100 + submission, fileType));
                }
                if (random.Next(5) == 0) visits.Add(new PkpVisit(time = time.AddSeconds(30), reader, agent, 0x213, submission, 200 + submission, 3));
            }
        }
        return visits.OrderBy(v => v.Time).ToList();
    }
}
