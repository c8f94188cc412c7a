using System.CommandLine;
using Microsoft.Extensions.Logging.Abstractions;
using Tally.Cli.Served;
using Tally.Core.Configuration;
using Tally.Core.Store;
using Tally.Hosting;
using Tally.Queue.Inbox;

namespace Tally.Cli.Commands;

public static class MigrateCommand
{
    public static Command Create()
    {
        var from = new Option<string>("--from")
        {
            Description = "The store to copy: duckdb:DIR, sqlite:DIR, postgres:CONNECTION-STRING or clickhouse:URL",
            HelpName = "ENGINE:CONNECTION",
            Required = true,
        }.IsStoreLocation();
        var to = new Option<string>("--to")
        {
            Description = "The store to copy into; it is set up first, and what it already holds is kept",
            HelpName = "ENGINE:CONNECTION",
            Required = true,
        }.IsStoreLocation();
        var command = new Command("migrate",
            "Copy raw events, metrics, item metadata, bookmarks and salts from one store to another. " +
            "Safe to stop and run again: it resumes, and stores every event once")
        { from, to };
        command.SetAction(async (parse, cancellationToken) =>
        {
            try
            {
                var options = TallyConfiguration.Load(parse.GetValue(CommonOptions.Config));
                var schema = TallySchema.Compile(options);
                var source = StoreLocation.Parse(parse.GetValue(from)!, "--from");
                var target = StoreLocation.Parse(parse.GetValue(to)!, "--to");
                if (source == target) return CommonOptions.Fail("--from and --to name the same store");
                // A DuckDB folder a server holds is copied by that server.
                if (await ServedCommands.TryForwardAsync(parse, [source, target], cancellationToken) is { } exitCode) return exitCode;
                if (!StoreFactory.Holds(source)) return CommonOptions.Fail($"--from {source}: the folder holds no {source.Engine} store");
                await using var sourceStore = await StoreFactory.OpenAsync(source, "--from", options.Storage, cancellationToken);
                // Events a server of the source folder acknowledged and had not stored when it stopped go with the rest.
                if (StoreLocation.IsEmbedded(source.Engine))
                    await EventInbox.StoreLeftOverAsync(source.Connection, schema, sourceStore, NullLogger.Instance, cancellationToken);
                await using var targetStore = await StoreFactory.OpenAsync(target, "--to", options.Storage, cancellationToken);
                CommandConsole.Current.Out.WriteLine($"Copying {source} into {target}");
                var copier = new StoreCopier(schema, sourceStore, targetStore, source.ToString());
                var result = await CommonOptions.WithProgressAsync("Migrating", report => copier.CopyAsync(
                    new SynchronousProgress<CopyProgress>(p => report(p.EventsTotal == 0 ? 1 : (double)p.EventsDone / p.EventsTotal, $"{p.Step}, {p.EventsDone:N0}/{p.EventsTotal:N0} events")),
                    cancellationToken));
                CommandConsole.Current.Out.WriteLine($"Events: {result.EventsCopied:N0} copied, {result.EventsAlreadyThere:N0} already there, {result.PartitionsSkipped} unchanged partition(s) skipped.");
                CommandConsole.Current.Out.WriteLine($"Metric rows: {result.MetricRows:N0}. Items: {result.Items:N0}. Settings, bookmarks and salts copied.");
                foreach (var type in result.UnknownTypes)
                    CommandConsole.Current.Error.WriteLine($"tally: events of type '{type}' were left behind: the configuration no longer declares it");
                if (result.Mismatches.Count == 0)
                {
                    CommandConsole.Current.Out.WriteLine("Every partition of the target holds what the source held. Point storage at the target and restart Tally.");
                    return 0;
                }
                CommandConsole.Current.Error.WriteLine("These partitions hold fewer events in the target; run the migration again:");
                foreach (var mismatch in result.Mismatches) CommandConsole.Current.Error.WriteLine($"  - {mismatch}");
                return 1;
            }
            catch (ConfigurationException e)
            {
                return CommonOptions.Fail(e.Message);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                CommandConsole.Current.Error.WriteLine("tally: migration interrupted; run the same command again to resume");
                return 130;
            }
        });
        return command;
    }
}
