using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Query.Sushi;
using Tally.Core.Store;
using Tally.Cli.Served;

namespace Tally.Cli.Commands;

/// <summary>A COUNTER R5.1 report from the local store, exactly as /r51/reports/{id} would serve it.</summary>
public static class ReportCommand
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>What an empty report says on stderr: which months have COUNTER usage, as options to ask for them.</summary>
    private static string WhereTheUsageIs(JsonObject report, (DateOnly First, DateOnly Last)? months)
    {
        var filters = report["Report_Header"]!["Report_Filters"]!;
        var (begin, end) = (DateOnly.Parse((string)filters["Begin_Date"]!, CultureInfo.InvariantCulture), DateOnly.Parse((string)filters["End_Date"]!, CultureInfo.InvariantCulture));
        return CommonOptions.WhereTheDataIs($"No usage from {begin:yyyy-MM} to {end:yyyy-MM}", begin, end, months, "no COUNTER usage is stored yet",
            (first, last) => $"COUNTER usage runs from {first:yyyy-MM} to {last:yyyy-MM}",
            (first, last) => $"--begin {first:yyyy-MM} --end {last:yyyy-MM}");
    }

    public static Command Create()
    {
        var report = new Argument<string?>("report") { Description = "pr, pr_p1, dr, dr_d1, dr_d2, tr, tr_b1-b3, tr_j1-j4, ir, ir_a1 or ir_m1; omit to list them", Arity = ArgumentArity.ZeroOrOne };
        var parameters = CommonOptions.Parameters(
            "More SUSHI parameters as NAME=VALUE: metric_type, data_type, access_type, access_method, yop, item_id, attributes_to_show, granularity, country_code, ...",
            repeatable: false);
        var customer = new Option<string>("--customer-id") { Description = "An institution's customer id, or 0000000000000000 for all usage", DefaultValueFactory = _ => Institution.TheWorld };
        var begin = new Option<string?>("--begin") { Description = "First month, yyyy-mm (default: last month)" };
        var end = new Option<string?>("--end") { Description = "Last month, yyyy-mm (default: the first month)" };
        var format = new Option<string>("--format") { Description = "json, or tsv for the Code of Practice's tabular form", DefaultValueFactory = _ => "json" };
        format.AcceptOnlyFromAmong("json", "tsv");
        var command = new Command("report", "Print a COUNTER R5.1 report, as the SUSHI API serves it") { report, parameters, customer, begin, end, format };
        report.Validators.Add(result =>
        {
            if (result.GetValue(report) is not { } id || SushiReportCatalog.All.Any(r => r.PathId.Equals(id, StringComparison.OrdinalIgnoreCase))) return;
            var ids = SushiReportCatalog.All.Select(r => r.PathId).ToList();
            var hint = NearestName.Find(id, ids) is { } nearest ? $"did you mean {nearest}?" : $"the reports are {string.Join(", ", ids)}";
            result.AddError($"'{id}' is not a COUNTER report; {hint}");
        });
        command.SetTallyAction(async (services, parse, cancellationToken) =>
        {
            if (parse.GetValue(report) is not { } id)
            {
                foreach (var r in services.GetRequiredService<SushiService>().Supported) CommandConsole.Current.Out.WriteLine($"{r.PathId,-7} {r.Name}");
                return 0;
            }
            var now = services.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime;
            var first = parse.GetValue(begin) ?? new DateOnly(now.Year, now.Month, 1).AddMonths(-1).ToString("yyyy-MM", System.Globalization.CultureInfo.InvariantCulture);
            var query = parse.Pairs(parameters).ToDictionary(p => p.Name, p => p.Value, StringComparer.Ordinal);
            query["customer_id"] = parse.GetValue(customer)!;
            query["begin_date"] = first;
            query["end_date"] = parse.GetValue(end) ?? first;
            try
            {
                var sushi = services.GetRequiredService<SushiService>();
                var json = await sushi.ReportAsync(sushi.Request(id.ToLowerInvariant(), query), cancellationToken);
                CommandConsole.Current.Out.Write(parse.GetValue(format) == "tsv" ? SushiTabular.Write(json) : json.ToJsonString(Indented) + Environment.NewLine);
                if (json["Report_Items"] is JsonArray { Count: 0 })
                    CommandConsole.Current.Error.WriteLine(WhereTheUsageIs(json, await OpenMonths.CounterMonthsAsync(services.GetRequiredService<IMetricStore>(), services.GetRequiredService<ISettingStore>(), cancellationToken)));
                return 0;
            }
            catch (SushiException e)
            {
                return CommonOptions.Fail($"COUNTER exception {e.Error.Code} {e.Error.Message}: {e.Error.Data}");
            }
        });
        return command;
    }
}
