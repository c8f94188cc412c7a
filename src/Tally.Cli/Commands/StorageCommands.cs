using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;
using Spectre.Console.Rendering;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Query.Sushi;
using Tally.Core.Retention;
using Tally.Core.Store;
using Tally.Hosting;
using Tally.Cli.Served;

namespace Tally.Cli.Commands;

/// <summary>Commands about storage and configuration: setup, check, types, retention.</summary>
public static class StorageCommands
{
    public static Command Setup()
    {
        var command = new Command("setup", "Create the tables, partitions' registry and metric tables the configuration needs (never drops anything)");
        command.SetTallyAction((services, parse, cancellationToken) =>
        {
            var schema = services.GetRequiredService<TallySchema>();
            CommandConsole.Current.Out.WriteLine($"Storage {services.GetRequiredService<StoreLocation>()} is set up for " +
                $"{schema.EventTypes.Count} event type(s) and {schema.Aggregations.Count} aggregation(s).");
            return Task.FromResult(0);
        });
        return command;
    }

    public static Command Check()
    {
        var command = new Command("check", "Compare storage with the configuration; exit 1 and list the differences when they disagree");
        command.SetTallyAction(async (services, parse, cancellationToken) =>
        {
            var differences = await services.GetRequiredService<IStoreSetup>().CheckAsync(services.GetRequiredService<TallySchema>(), cancellationToken);
            CommandConsole.Current.Out.WriteLine("Robot lists:");
            foreach (var list in services.GetRequiredService<RobotLists>().Names) CommandConsole.Current.Out.WriteLine($"  - {list}");
            if (services.GetRequiredService<SushiService>().OpenAccessWarning is { } warning) CommandConsole.Current.Out.WriteLine($"Warning: {warning}");
            if (differences.Count == 0)
            {
                CommandConsole.Current.Out.WriteLine("Storage matches the configuration.");
                return 0;
            }
            CommandConsole.Current.Error.WriteLine("Storage differs from the configuration:");
            foreach (var difference in differences) CommandConsole.Current.Error.WriteLine($"  - {difference}");
            CommandConsole.Current.Error.WriteLine("Run 'tally setup' to create what is missing.");
            return 1;
        }, setup: false);
        return command;
    }

    public static Command Types()
    {
        var command = new Command("types", "List the configured event types, their fields, partitioning and retention");
        command.SetTallyAction((services, parse, cancellationToken) =>
        {
            // Names are never split: the lists wrap between names, and every other column keeps its width.
            var table = new Spectre.Console.Table { ShowRowSeparators = true }
                .AddColumn(new TableColumn("Type").NoWrap())
                .AddColumn(new TableColumn("Partition").NoWrap())
                .AddColumn(new TableColumn("Retention").NoWrap())
                .AddColumn(new TableColumn("Fields and aggregations"));
            var schema = services.GetRequiredService<TallySchema>();
            foreach (var type in schema.EventTypes.Values)
            {
                var fields = type.Fields.Select(f => $"{f.Name}{(f.Required ? "*" : "")}:{f.Type.ToString().ToLowerInvariant()}");
                var aggregations = schema.AggregationsOf(type).Select(a => a.Name).DefaultIfEmpty("none");
                table.AddRow(
                    Markup.Escape(type.Name) + (type.Enabled ? "" : "\n(disabled)"),
                    type.Partition.Name(),
                    type.RetentionDays is { } days ? $"{days} days" : "forever",
                    $"{Markup.Escape(string.Join(", ", fields))}\naggregations: {Markup.Escape(string.Join(", ", aggregations))}");
            }
            // Narrower than the longest names (or redirected, where 80 columns are assumed), the table grows instead.
            var needed = ((IRenderable)table).Measure(RenderOptions.Create(CommandConsole.Current.Tables), int.MaxValue).Min;
            CommandConsole.Current.Tables.Profile.Width = Math.Max(CommandConsole.Current.Tables.Profile.Width, needed);
            CommandConsole.Current.Tables.Write(table);
            CommandConsole.Current.Out.WriteLine("* required");
            return Task.FromResult(0);
        }, setup: false);
        return command;
    }

    public static Command Retention()
    {
        var command = new Command("retention", "Drop raw partitions older than each type's retention, and salts older than privacy.saltRetentionDays");
        command.SetTallyAction(async (services, parse, cancellationToken) =>
        {
            var result = await services.GetRequiredService<RetentionService>().RunAsync(cancellationToken);
            CommandConsole.Current.Out.WriteLine(result.DroppedPartitions.Count == 0
                ? "No partition has expired."
                : $"Dropped {result.DroppedPartitions.Count} partition(s): {string.Join(", ", result.DroppedPartitions)}");
            CommandConsole.Current.Out.WriteLine($"Salts not used since {result.SaltsUnusedSince:yyyy-MM-dd} deleted.");
            return 0;
        });
        return command;
    }
}
