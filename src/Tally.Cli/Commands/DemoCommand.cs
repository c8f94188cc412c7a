using System.CommandLine;
using Tally.Server.Demo;
using Tally.Server.Runtime;

namespace Tally.Cli.Commands;

public static class DemoCommand
{
    public static Command Create()
    {
        var days = new Option<int>("--days") { Description = "Days of history, ending today", DefaultValueFactory = _ => DemoData.DefaultDays }.InRange(1, 3660);
        var perDay = new Option<int>("--per-day") { Description = "Events per day, roughly", DefaultValueFactory = _ => DemoData.DefaultEventsPerDay }.InRange(1, 10_000_000);
        var command = new Command("demo", "Load realistic demo usage (records, downloads, robots, double-clicks) through the normal pipeline, then aggregate")
        {
            days, perDay,
        };
        command.SetRuntimeAction(async (runtime, parse, cancellationToken) =>
        {
            var stored = await CommonOptions.WithProgressAsync("Loading demo usage", report =>
                DemoData.SeedAsync(runtime, parse.GetValue(days), parse.GetValue(perDay),
                    new SynchronousProgress<DemoProgress>(p => report((double)p.DaysDone / p.DaysTotal, $"{p.Stored:N0} events")), cancellationToken));
            Console.WriteLine($"Stored {stored:N0} new demo events in {Path.GetFullPath(runtime.Options.DataDirectory)} and aggregated them.");
            Console.WriteLine($"'tally serve --demo' serves them with the demo institutions; its admin API key is in {Path.Combine(runtime.Options.DataDirectory, TallyRuntime.DemoKeyFile)}.");
            return 0;
        }, demo: _ => true);
        return command;
    }
}
