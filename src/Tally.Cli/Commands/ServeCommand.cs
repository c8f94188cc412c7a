using System.CommandLine;
using Tally.Server.Demo;
using Tally.Server.Hosting;
using Tally.Server.Runtime;

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
        command.SetRuntimeAction(async (runtime, parse, cancellationToken) =>
        {
            if (runtime.Options.Demo && !await DemoData.IsSeededAsync(runtime, cancellationToken))
            {
                await CommonOptions.WithProgressAsync("Loading demo usage", async report =>
                    await DemoData.SeedAsync(runtime, DemoData.DefaultDays, DemoData.DefaultEventsPerDay,
                        new SynchronousProgress<DemoProgress>(p => report((double)p.DaysDone / p.DaysTotal, $"{p.Stored:N0} events")), cancellationToken));
            }
            await using var app = TallyServer.Build(runtime, parse.GetValue(urls)!);
            await app.StartAsync(cancellationToken);
            foreach (var url in app.Urls) Console.WriteLine($"Tally is listening on {url}");
            Console.WriteLine($"Role: {runtime.Options.Role.ToString().ToLowerInvariant()}, store: {runtime.StoreLocation}");
            if (runtime.AdminKey is not null) Console.WriteLine($"Demo API key (admin): {runtime.AdminKey}");
            if (runtime.Options.Role.Queries() && runtime.Sushi.OpenAccessWarning is { } warning) Console.Error.WriteLine($"Warning: {warning}");
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
        }, demo: p => p.GetValue(demo), role: role);
        return command;
    }
}
