using System.CommandLine;
using System.Globalization;
using System.Text;
using Spectre.Console;
using Tally.Cli.Bench;
using Tally.Core.Configuration;

namespace Tally.Cli.Commands;

public static class BenchCommand
{
    public static Command Create()
    {
        var events = new Option<int>("--events") { Description = "Events to generate for ingest, pipeline and aggregation", DefaultValueFactory = _ => 300_000 };
        var batch = new Option<int>("--batch") { Description = "Events per batch request", DefaultValueFactory = _ => 5_000 };
        var concurrency = new Option<int>("--concurrency") { Description = "Concurrent HTTP clients", DefaultValueFactory = _ => 8 };
        var seconds = new Option<int>("--single-seconds") { Description = "How long to send single-event POSTs", DefaultValueFactory = _ => 10 };
        var repetitions = new Option<int>("--query-repetitions") { Description = "Rounds over every registered query", DefaultValueFactory = _ => 50 };
        var pkpLines = new Option<int>("--pkp-lines") { Description = "Lines of the PKP usage log to import (a file a quarter this size measures memory growth)", DefaultValueFactory = _ => 1_000_000 };
        var only = new Option<string[]>("--only")
        {
            Description = $"Run only these groups: {string.Join(", ", BenchSettings.AllGoals)} (http covers batch and single ingest, aggregation, queries and SUSHI)",
            HelpName = "GOAL",
            AllowMultipleArgumentsPerToken = true,
        };
        only.AcceptOnlyFromAmong(BenchSettings.AllGoals);
        var markdown = new Option<FileInfo?>("--markdown") { Description = "Also append the results as a Markdown table to this file", HelpName = "FILE" };
        var command = new Command("bench", "Measure SPEC §5's goals on this machine, each against a baseline taken in the same run, in a throw-away data folder")
        {
            events, batch, concurrency, seconds, repetitions, pkpLines, only, markdown,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (parse.GetValue(events) < 1000) return CommonOptions.Fail("--events must be at least 1000");
            if (parse.GetValue(batch) is < 1 or > 100_000) return CommonOptions.Fail("--batch must be from 1 to 100000");
            if (parse.GetValue(concurrency) is < 1 or > 256) return CommonOptions.Fail("--concurrency must be from 1 to 256");
            if (parse.GetValue(pkpLines) < 4000) return CommonOptions.Fail("--pkp-lines must be at least 4000");
            var goals = parse.GetValue(only) is { Length: > 0 } chosen ? chosen : BenchSettings.AllGoals;
            var settings = new BenchSettings(parse.GetValue(events), parse.GetValue(batch), parse.GetValue(concurrency),
                TimeSpan.FromSeconds(Math.Max(1, parse.GetValue(seconds))), Math.Max(1, parse.GetValue(repetitions)), parse.GetValue(CommonOptions.Config),
                parse.GetValue(pkpLines), goals.ToHashSet());
            IReadOnlyList<BenchResult> results;
            try
            {
                results = await new BenchRunner(settings, step => Console.Error.WriteLine($"bench: {step}...")).RunAsync(cancellationToken);
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

    private static string Number(double value) =>
        value.ToString(value >= 100 ? "N0" : "N2", CultureInfo.InvariantCulture);
}
