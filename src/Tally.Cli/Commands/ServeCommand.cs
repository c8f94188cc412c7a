using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Tally.Cli.Served;
using Tally.Core.Query.Sushi;
using Tally.Core.Store;
using Tally.Hosting;
using Tally.Hosting.Demo;
using Tally.Server.Hosting;

namespace Tally.Cli.Commands;

public static class ServeCommand
{
    public const string DefaultUrls = "http://127.0.0.1:5080";

    public static Command Create()
    {
        var urls = new Option<string>("--urls")
        {
            Description = "Where to listen; several separated by ';'. Use port 0 for any free port",
            DefaultValueFactory = _ => DefaultUrls,
            HelpName = "URLS",
        };
        var demo = new Option<bool>("--demo")
        {
            Description = "Load 90 days of demo usage on first start, keep live demo traffic coming, and create an admin API key",
        };
        var role = new Option<ServerRole>("--role")
        {
            Description = "all: everything in one process. Scaled out over RabbitMQ (queue.uri) and a shared store: " +
                "ingest accepts events and queues them; worker processes and stores them and runs the scheduled jobs; query serves the API",
            DefaultValueFactory = _ => ServerRole.All,
            HelpName = "all|ingest|worker|query",
        };
        var command = new Command("serve", "Run the HTTP API with scheduled aggregation and retention") { urls, demo, role };
        command.Validators.Add(result =>
        {
            if (result.GetValue(demo) && result.GetValue(role) != ServerRole.All) result.AddError("--demo runs with --role all only");
        });
        command.SetReportingAction(async (parse, cancellationToken) =>
        {
            var options = CommonOptions.HostOptions(parse, parse.GetValue(demo), parse.GetValue(role));
            await using var app = await TallyServer.BuildAsync(options, parse.GetValue(urls)!, cancellationToken);
            var services = app.Services;
            if (options.Demo) await SeedDemoAsync(services.GetRequiredService<DemoData>(), cancellationToken);
            await app.StartAsync(cancellationToken);
            // DuckDB lets one process open the folder: other commands on it are sent here and run on this process's store.
            var location = services.GetRequiredService<StoreLocation>();
            await using var served = location.Engine == StoreLocation.DuckDb ? ServedCommands.Listen(Path.GetFullPath(location.Connection), (RootCommand)parse.RootCommandResult.Command) : null;
            foreach (var url in app.Urls) Console.WriteLine($"Tally is listening on {url}");
            var started = services.GetRequiredService<TallyHostOptions>();
            Console.WriteLine($"Role: {options.Role.ToString().ToLowerInvariant()}, store: {location}");
            if (started.AdminKey is not null) Console.WriteLine($"Demo API key (admin): {started.AdminKey}");
            if (options.Role.Queries() && services.GetRequiredService<SushiService>().OpenAccessWarning is { } warning) Console.Error.WriteLine($"Warning: {warning}");
            Console.WriteLine("Press Ctrl+C to stop.");
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            catch (OperationCanceledException)
            {
            }
            await app.StopAsync(CancellationToken.None);
            return 0;
        });
        return command;
    }

    /// <summary>The demo's history, loaded once per data folder before the server starts.</summary>
    private static async Task SeedDemoAsync(DemoData demo, CancellationToken cancellationToken)
    {
        if (await demo.IsSeededAsync(cancellationToken)) return;
        await CommonOptions.WithProgressAsync("Loading demo usage", report =>
            demo.SeedAsync(DemoData.DefaultDays, DemoData.DefaultEventsPerDay,
                new SynchronousProgress<DemoProgress>(p => report((double)p.DaysDone / p.DaysTotal, $"{p.Stored:N0} events")), cancellationToken));
    }
}
