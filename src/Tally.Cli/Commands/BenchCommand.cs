using System.CommandLine;
using System.Globalization;
using System.Text;
using Spectre.Console;
using Tally.Cli.Bench;
using Tally.Core.Configuration;
using Tally.Core.Store;

namespace Tally.Cli.Commands;

public static class BenchCommand
{
    public static Command Create()
    {
        var events = new Option<int>("--events") { Description = "Events to generate for ingest, pipeline and aggregation", DefaultValueFactory = _ => 300_000 }.InRange(1000);
        var batch = new Option<int>("--batch") { Description = "Events per batch request", DefaultValueFactory = _ => 5_000 }.InRange(1, 100_000);
        var concurrency = new Option<int>("--concurrency") { Description = "Concurrent HTTP clients", DefaultValueFactory = _ => 8 }.InRange(1, 256);
        var seconds = new Option<int>("--single-seconds") { Description = "How long to send single-event POSTs", DefaultValueFactory = _ => 10 };
        var repetitions = new Option<int>("--query-repetitions") { Description = "Rounds over every registered query", DefaultValueFactory = _ => 50 };
        var pkpLines = new Option<int>("--pkp-lines") { Description = "Lines of the PKP usage log to import (a file a quarter this size measures memory growth)", DefaultValueFactory = _ => 1_000_000 }.InRange(4000);
        var only = new Option<string[]>("--only")
        {
            Description = $"Run only these groups: {string.Join(", ", BenchSettings.AllGoals)} (http covers batch and single ingest, aggregation, queries and SUSHI)",
            HelpName = "GOAL",
            AllowMultipleArgumentsPerToken = true,
        };
        only.AcceptOnlyFromAmong(BenchSettings.AllGoals);
        var psql = new Option<string>("--psql") { Description = "psql, for PostgreSQL's bulk-path baseline (\\copy)", DefaultValueFactory = _ => DefaultPsql(), HelpName = "PATH" };
        var clickHouseClient = new Option<string>("--clickhouse-client")
        {
            Description = "clickhouse-client, for ClickHouse's bulk-path baseline (INSERT)",
            DefaultValueFactory = _ => "clickhouse-client",
            HelpName = "PATH",
        };
        var clickHouseTcpPort = new Option<int>("--clickhouse-tcp-port")
        {
            Description = "The native port clickhouse-client connects to, on the --store host",
            DefaultValueFactory = _ => 9000,
            HelpName = "PORT",
        };
        var markdown = new Option<FileInfo?>("--markdown") { Description = "Also append the results as a Markdown table to this file", HelpName = "FILE" };
        var command = new Command("bench",
            "Measure SPEC §5's goals on this machine, each against a baseline taken in the same run, in throw-away stores: " +
            "SQLite folders, or with --store new databases on that PostgreSQL or ClickHouse server (dropped afterwards)")
        {
            events, batch, concurrency, seconds, repetitions, pkpLines, only, psql, clickHouseClient, clickHouseTcpPort, markdown,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var goals = parse.GetValue(only) is { Length: > 0 } chosen ? chosen : BenchSettings.AllGoals;
            var settings = new BenchSettings(parse.GetValue(events), parse.GetValue(batch), parse.GetValue(concurrency),
                TimeSpan.FromSeconds(Math.Max(1, parse.GetValue(seconds))), Math.Max(1, parse.GetValue(repetitions)), parse.GetValue(CommonOptions.Config),
                parse.GetValue(pkpLines), goals.ToHashSet());
            IReadOnlyList<BenchResult> results;
            try
            {
                if (parse.GetValue(CommonOptions.Store) is { } store)
                {
                    settings = settings with
                    {
                        Store = StoreLocation.Parse(store, "--store"), Psql = parse.GetValue(psql)!,
                        ClickHouseClient = parse.GetValue(clickHouseClient)!, ClickHouseTcpPort = parse.GetValue(clickHouseTcpPort),
                    };
                }
                await using var stores = new BenchStores(settings.Store, settings.Psql, settings.ClickHouseClient, settings.ClickHouseTcpPort);
                results = await new BenchRunner(settings, stores, step => Console.Error.WriteLine($"bench: {step}...")).RunAsync(cancellationToken);
            }
            catch (ConfigurationException e)
            {
                return CommonOptions.Fail(e.Message);
            }

            var table = new Table().AddColumns("Goal", "Measured", "Tally", "Baseline", "Ratio", "Target");
            foreach (var r in results)
                table.AddRow(r.Goal, Markup.Escape(r.Measure), $"{Number(r.Value)} {r.Unit}", Markup.Escape($"{Number(r.BaselineValue)} ({r.Baseline})"), $"{r.Ratio:P0}", Markup.Escape(r.Target));
            AnsiConsole.Write(table);

            if (parse.GetValue(markdown) is { } file)
            {
                var text = new StringBuilder();
                text.AppendLine(CultureInfo.InvariantCulture, $"### {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores: `tally bench {string.Join(' ', parse.Tokens.Select(t => t.Value).Skip(1))}`");
                text.AppendLine();
                text.AppendLine("| Goal | Measured | Tally | Baseline (same run) | Ratio | Target |");
                text.AppendLine("|---|---|---:|---:|---:|---|");
                foreach (var r in results)
                    text.AppendLine(CultureInfo.InvariantCulture, $"| {r.Goal} | {r.Measure} | {Number(r.Value)} {r.Unit} | {Number(r.BaselineValue)} ({r.Baseline}) | {r.Ratio:P0} | {r.Target} |");
                text.AppendLine();
                await File.AppendAllTextAsync(file.FullName, text.ToString(), cancellationToken);
            }
            return 0;
        });
        return command;
    }

    /// <summary>psql from PATH, else where Debian's PostgreSQL 15 puts it.</summary>
    private static string DefaultPsql() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, "psql")).FirstOrDefault(File.Exists)
        ?? "/usr/lib/postgresql/15/bin/psql";

    private static string Number(double value) =>
        value.ToString(value >= 100 ? "N0" : "N2", CultureInfo.InvariantCulture);
}
