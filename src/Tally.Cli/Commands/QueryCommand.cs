using System.CommandLine;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;
using Tally.Core.Configuration;
using Tally.Core.Query;
using Tally.Cli.Served;

namespace Tally.Cli.Commands;

public static class QueryCommand
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static Command Create()
    {
        var name = new Argument<string?>("query") { Description = "A registered query; omit to list them", Arity = ArgumentArity.ZeroOrOne };
        var parameters = CommonOptions.Parameters(
            "NAME=VALUE parameters as the API takes them: dateStart, dateEnd, interval=day|month, count, offset, groupBy, FIELD=VALUE, not_FIELD=VALUE",
            repeatable: true);
        var view = new Option<string?>("--view") { Description = "timeline or totals; default: timeline for date-histogram queries, totals for terms queries" };
        view.AcceptOnlyFromAmong("timeline", "totals");
        var format = new Option<string>("--format") { Description = "Output format", DefaultValueFactory = _ => "table" };
        format.AcceptOnlyFromAmong("table", "csv", "json");
        var command = new Command("query", "Answer a registered query from aggregated metrics, as the stats API would")
        {
            name, parameters, view, format,
        };
        command.SetTallyAction<(QueryDefinition Query, StatsRequest Request)?>((schema, parse) =>
        {
            if (parse.GetValue(name) is not { } queryName) return null;
            if (!schema.Queries.TryGetValue(queryName, out var query))
            {
                var hint = NearestName.Find(queryName, schema.Queries.Keys) is { } nearest ? $"; did you mean {nearest}?" : ".";
                throw new UsageException($"'{queryName}' is not a registered query{hint} Run 'tally query' to list them.");
            }
            var request = parse.ReadParameters(parameters, pairs =>
                StatsRequest.Parse(pairs, query.Aggregation, schema.Options, DateOnly.FromDateTime(TimeProvider.System.GetUtcNow().UtcDateTime)));
            return (Query: query, Request: request);
        }, async (services, parse, asked, cancellationToken) =>
        {
            if (asked is not { } ask)
            {
                foreach (var q in services.GetRequiredService<TallySchema>().Queries.Values)
                    CommandConsole.Current.Out.WriteLine($"{q.Name,-28} {(q.Kind == QueryKind.Terms ? "terms" : "date-histogram"),-15} {q.Aggregation.EventType.Name,-15} {StatsTables.MetricName(q.Metric, q.Aggregation)}");
                return 0;
            }
            var (query, request) = ask;
            var tables = services.GetRequiredService<StatsTables>();
            var timeline = (parse.GetValue(view) ?? (query.Kind == QueryKind.Terms ? "totals" : "timeline")) == "timeline";
            var (table, groups) = timeline
                ? (await tables.TimelineAsync(query, request, cancellationToken), -1)
                : await tables.TotalsAsync(query, request, cancellationToken);
            Print(table, parse.GetValue(format)!);
            var count = table.Columns.ToList().IndexOf("count");
            if (timeline ? table.Rows.All(row => row[count] is 0d) : groups == 0)
                CommandConsole.Current.Error.WriteLine(CommonOptions.WhereTheDataIs($"No data from {request.From:yyyy-MM-dd} to {request.To:yyyy-MM-dd}", request.From, request.To,
                    await services.GetRequiredService<StatsService>().DaysWithDataAsync(query.Aggregation, cancellationToken), $"'{query.Name}' has no data yet",
                    (first, last) => $"'{query.Name}' has data from {first:yyyy-MM-dd} to {last:yyyy-MM-dd}",
                    (first, last) => $"dateStart={first:yyyy-MM-dd} dateEnd={last:yyyy-MM-dd}"));
            return 0;
        });
        return command;
    }

    private static void Print(Core.Query.Table table, string format)
    {
        switch (format)
        {
            case "csv":
                table.WriteCsv(CommandConsole.Current.Out);
                break;
            case "json":
                CommandConsole.Current.Out.WriteLine(JsonSerializer.Serialize(table.Records(), Indented));
                break;
            default:
                var output = new Spectre.Console.Table();
                foreach (var column in table.Columns) output.AddColumn(column);
                foreach (var row in table.Rows) output.AddRow(row.Select(c => Markup.Escape(Core.Query.Table.FormatCell(c))).ToArray());
                CommandConsole.Current.Tables.Write(output);
                break;
        }
    }
}
