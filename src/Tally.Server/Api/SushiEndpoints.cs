using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Tally.Core.Query;
using Tally.Core.Query.Sushi;

namespace Tally.Server.Api;

/// <summary>
/// The COUNTER_SUSHI API 5.1 under /r51. Answers are COUNTER JSON (or the Code of Practice's
/// tab-separated form for reports), and errors are COUNTER exception objects, as SUSHI clients expect.
/// </summary>
public static class SushiEndpoints
{
    private const string Tsv = "text/tab-separated-values";

    public static void MapSushiEndpoints(this IEndpointRouteBuilder app)
    {
        var r51 = app.MapGroup("/r51").WithTags("COUNTER_SUSHI 5.1");

        r51.MapGet("/status", (SushiService sushi) => Results.Json(sushi.Status()))
            .WithName("SushiStatus").WithSummary("Whether the reporting service is active.");

        r51.MapGet("/members", ([FromQuery(Name = "api_key")] string? apiKey, HttpContext context, SushiService sushi) =>
                Answer(context, sushi, customer: false, _ => Task.FromResult(Results.Json(sushi.Members(apiKey)))))
            .WithName("SushiMembers").WithSummary("The institutions (customer ids) the requestor may ask for.");

        r51.MapGet("/reports", (HttpContext context, SushiService sushi, CancellationToken cancellationToken) =>
                Answer(context, sushi, customer: false, async _ => Results.Json(await sushi.ReportsAsync(cancellationToken))))
            .WithName("SushiReports").WithSummary("The reports offered, with the months available.");

        r51.MapGet("/reports/{report}", (HttpContext context, string report, SushiService sushi, CancellationToken cancellationToken) =>
                Answer(context, sushi, customer: true, async query =>
                {
                    var json = await sushi.ReportAsync(report.ToLowerInvariant(), query, cancellationToken);
                    if (WantsTsv(context)) return Results.Text(SushiTabular.Write(json), $"{Tsv}; charset=utf-8");
                    // CSV is the same table as the TSV: header rows, a blank row, then the metrics, all equally wide.
                    var rows = SushiTabular.Rows(json).ToList();
                    return Tabular.Respond(context.Request, json, new Table(rows[0], [.. rows.Skip(1).Select(row => (IReadOnlyList<object?>)[.. row])]));
                }))
            .WithName("SushiReport")
            .WithSummary("A COUNTER report or standard view (pr, pr_p1, dr, dr_d1, dr_d2, tr, tr_b1-3, tr_j1-4, ir, ir_a1, ir_m1); format=tsv or Accept: text/tab-separated-values for the tabular form, Accept: text/csv for it as CSV.");
    }

    private static async Task<IResult> Answer(HttpContext context, SushiService sushi, bool customer, Func<IReadOnlyDictionary<string, string>, Task<IResult>> answer)
    {
        var query = context.Request.Query.Where(p => p.Key != "format").ToDictionary(p => p.Key, p => p.Value.ToString(), StringComparer.Ordinal);
        try
        {
            sushi.Authenticate(query.GetValueOrDefault("requestor_id"), query.GetValueOrDefault("api_key"), customer ? query.GetValueOrDefault("customer_id") : null);
            return await answer(query);
        }
        catch (SushiException e)
        {
            return Results.Json(SushiReportBuilder.ExceptionJson(e.Error), statusCode: e.Error.HttpStatus);
        }
    }

    private static bool WantsTsv(HttpContext context) =>
        context.Request.Query["format"] == "tsv" || context.Request.Headers.Accept.ToString().Contains(Tsv, StringComparison.OrdinalIgnoreCase);
}
