using System.CommandLine;
using Spectre.Console;
using Tally.Core.Events;

namespace Tally.Cli.Commands;

/// <summary>Commands about storage and configuration: setup, check, types, retention.</summary>
public static class StorageCommands
{
    public static Command Setup()
    {
        var command = new Command("setup", "Create the tables, partitions' registry and metric tables the configuration needs (never drops anything)");
        command.SetRuntimeAction((runtime, parse, cancellationToken) =>
        {
            Console.WriteLine($"Storage {runtime.StoreLocation} is set up for " +
                $"{runtime.Schema.EventTypes.Count} event type(s) and {runtime.Schema.Aggregations.Count} aggregation(s).");
            return Task.FromResult(0);
        });
        return command;
    }

    public static Command Check()
    {
        var command = new Command("check", "Compare storage with the configuration; exit 1 and list the differences when they disagree");
        command.SetRuntimeAction(async (runtime, parse, cancellationToken) =>
        {
            var differences = await runtime.Store.CheckAsync(runtime.Schema, cancellationToken);
            Console.WriteLine("Robot lists:");
            foreach (var list in runtime.Robots.Names) Console.WriteLine($"  - {list}");
            if (runtime.Sushi.OpenAccessWarning is { } warning) Console.WriteLine($"Warning: {warning}");
            if (differences.Count == 0)
            {
                Console.WriteLine("Storage matches the configuration.");
                return 0;
            }
            Console.Error.WriteLine("Storage differs from the configuration:");
            foreach (var difference in differences) Console.Error.WriteLine($"  - {difference}");
            Console.Error.WriteLine("Run 'tally setup' to create what is missing.");
            return 1;
        }, setup: false);
        return command;
    }

    public static Command Types()
    {
        var command = new Command("types", "List the configured event types, their fields, partitioning and retention");
        command.SetRuntimeAction((runtime, parse, cancellationToken) =>
        {
            var table = new Spectre.Console.Table().AddColumns("Type", "Enabled", "Partition", "Retention", "Fields", "Aggregations");
            foreach (var type in runtime.Schema.EventTypes.Values)
            {
                table.AddRow(
                    type.Name,
                    type.Enabled ? "yes" : "no",
                    type.Partition.Name(),
                    type.RetentionDays is { } days ? $"{days} days" : "forever",
                    Markup.Escape(string.Join(", ", type.Fields.Select(f => $"{f.Name}{(f.Required ? "*" : "")}:{f.Type.ToString().ToLowerInvariant()}"))),
                    string.Join(", ", runtime.Schema.AggregationsOf(type).Select(a => a.Name)));
            }
            AnsiConsole.Write(table);
            Console.WriteLine("* required");
            return Task.FromResult(0);
        }, setup: false);
        return command;
    }

    public static Command Retention()
    {
        var command = new Command("retention", "Drop raw partitions older than each type's retention, and salts older than privacy.saltRetentionDays");
        command.SetRuntimeAction(async (runtime, parse, cancellationToken) =>
        {
            var result = await runtime.Retention.RunAsync(cancellationToken);
            Console.WriteLine(result.DroppedPartitions.Count == 0
                ? "No partition has expired."
                : $"Dropped {result.DroppedPartitions.Count} partition(s): {string.Join(", ", result.DroppedPartitions)}");
            Console.WriteLine($"Salts not used since {result.SaltsUnusedSince:yyyy-MM-dd} deleted.");
            return 0;
        });
        return command;
    }
}
