using System.CommandLine;
using Spectre.Console;
using Tally.Bench;
using Tally.Core.Configuration;
using Tally.Core.Store;

namespace Tally.Cli.Commands;

/// <summary>`tally bench`: reads the options into <see cref="BenchSettings"/>, runs <see cref="BenchRunner"/>, and shows its results.</summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var options = new BenchOptions();
        var command = new Command("bench",
            "Measure the performance goals in docs/benchmarks.md on this machine, each against a baseline taken in the same run, in throw-away stores: " +
            "DuckDB folders (or sqlite:DIR, duckdb:DIR to choose), or with --store new databases on that PostgreSQL or ClickHouse server (dropped afterwards)");
        foreach (var option in options.All) command.Options.Add(option);
        options.AddValidators(command);
        command.SetAction((parse, cancellationToken) => RunAsync(parse, options, cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(ParseResult parse, BenchOptions options, CancellationToken cancellationToken)
    {
        IReadOnlyList<BenchResult> results;
        try
        {
            var settings = options.Read(parse);
            await using var stores = new BenchStores(settings.Store, settings.Psql, settings.ClickHouseClient, settings.ClickHouseTcpPort);
            void Status(string step) => Console.Error.WriteLine($"bench: {step}...");
            results = settings.Scale is null
                ? await new BenchRunner(settings, stores, Status).RunAsync(cancellationToken)
                : await new ScaleBench(settings, stores, Status).RunAsync(cancellationToken);
        }
        catch (ConfigurationException e)
        {
            return CommonOptions.Fail(e.Message);
        }
        WriteTable(results);
        if (parse.GetValue(options.Markdown) is { } file)
        {
            var commandLine = $"tally bench {string.Join(' ', parse.Tokens.Select(t => t.Value).Skip(1))}";
            await File.AppendAllTextAsync(file.FullName, BenchReport.Markdown(commandLine, results), cancellationToken);
        }
        return 0;
    }

    private static void WriteTable(IReadOnlyList<BenchResult> results)
    {
        var table = new Table().AddColumns("Goal", "Measured", "Tally", "Baseline", "Ratio", "Target");
        foreach (var r in results)
        {
            table.AddRow(r.Goal, Markup.Escape(r.Measure), $"{BenchReport.Number(r.Value)} {r.Unit}",
                Markup.Escape($"{BenchReport.Number(r.BaselineValue)} ({r.Baseline})"), $"{r.Ratio:P0}", Markup.Escape(r.Target));
        }
        AnsiConsole.Write(table);
    }

    /// <summary>The command's options, in the order its help lists them, and how they make the runner's settings.</summary>
    private sealed class BenchOptions
    {
        private readonly Option<int> _events = new Option<int>("--events") { Description = "Events to generate for ingest, pipeline and aggregation", DefaultValueFactory = _ => 300_000 }.InRange(1000);
        private readonly Option<int> _batch = new Option<int>("--batch") { Description = "Events per batch request", DefaultValueFactory = _ => 5_000 }.InRange(1, 100_000);
        private readonly Option<int> _concurrency = new Option<int>("--concurrency") { Description = "Concurrent HTTP clients", DefaultValueFactory = _ => 8 }.InRange(1, 256);
        private readonly Option<int> _seconds = new("--single-seconds") { Description = "How long to send single-event POSTs", DefaultValueFactory = _ => 10 };
        private readonly Option<int> _repetitions = new("--query-repetitions") { Description = "Rounds over every registered query (default 50, or 10 with --scale)" };

        private readonly Option<int?> _scale = new Option<int?>("--scale")
        {
            Description = $"Instead of the goal groups: generate N events of realistic usage over two months ({ScaleWorkload.Items:N0} items), " +
                $"import and aggregate them, add {ScaleBench.MoreEvents:N0} more and aggregate again, then time SUSHI and queries from a server",
            HelpName = "N",
        }.InRange(10_000, 1_000_000_000);

        private readonly Option<int> _pkpLines = new Option<int>("--pkp-lines")
        {
            Description = "Lines of the PKP usage log to import (a file a quarter this size measures memory growth)", DefaultValueFactory = _ => 1_000_000,
        }.InRange(4000);

        private readonly Option<string[]> _only = new Option<string[]>("--only")
        {
            Description = $"Run only these groups: {string.Join(", ", BenchSettings.AllGoals)} (http covers batch and single ingest, aggregation, queries and SUSHI)",
            HelpName = "GOAL",
            AllowMultipleArgumentsPerToken = true,
        }.AcceptOnlyFromAmong(BenchSettings.AllGoals);

        private readonly Option<string> _psql = new("--psql")
        {
            Description = "psql, for PostgreSQL's bulk-path baseline (\\copy)", DefaultValueFactory = _ => BenchStores.DefaultPsql(), HelpName = "PATH",
        };

        private readonly Option<string> _clickHouseClient = new("--clickhouse-client")
        {
            Description = "clickhouse-client, for ClickHouse's bulk-path baseline (INSERT)",
            DefaultValueFactory = _ => "clickhouse-client",
            HelpName = "PATH",
        };

        private readonly Option<int> _clickHouseTcpPort = new("--clickhouse-tcp-port")
        {
            Description = "The native port clickhouse-client connects to, on the --store host",
            DefaultValueFactory = _ => 9000,
            HelpName = "PORT",
        };

        public Option<FileInfo?> Markdown { get; } = new("--markdown") { Description = "Also append the results as a Markdown table to this file", HelpName = "FILE" };

        public IEnumerable<Option> All =>
            [_scale, _events, _batch, _concurrency, _seconds, _repetitions, _pkpLines, _only, _psql, _clickHouseClient, _clickHouseTcpPort, Markdown];

        /// <summary>--scale runs a bench of its own, so the goal groups cannot be chosen beside it.</summary>
        public void AddValidators(Command command) =>
            command.Validators.Add(result =>
            {
                if (result.GetResult(_scale) is not null && result.GetResult(_only) is not null) result.AddError("--scale and --only cannot be combined");
            });

        /// <summary>The settings the options give; the bulk-path tools matter only with --store, whose form is checked here.</summary>
        public BenchSettings Read(ParseResult parse)
        {
            var goals = parse.GetValue(_only) is { Length: > 0 } chosen ? chosen : BenchSettings.AllGoals;
            var scale = parse.GetValue(_scale);
            var repetitions = parse.GetResult(_repetitions) is null ? scale is null ? 50 : 10 : Math.Max(1, parse.GetValue(_repetitions));
            var settings = new BenchSettings(parse.GetValue(_events), parse.GetValue(_batch), parse.GetValue(_concurrency),
                TimeSpan.FromSeconds(Math.Max(1, parse.GetValue(_seconds))), repetitions, parse.GetValue(CommonOptions.Config),
                parse.GetValue(_pkpLines), goals.ToHashSet(), Scale: scale);
            if (parse.GetValue(CommonOptions.Store) is not { } store) return settings;
            return settings with
            {
                Store = StoreLocation.Parse(store, "--store"), Psql = parse.GetValue(_psql)!,
                ClickHouseClient = parse.GetValue(_clickHouseClient)!, ClickHouseTcpPort = parse.GetValue(_clickHouseTcpPort),
            };
        }
    }
}
