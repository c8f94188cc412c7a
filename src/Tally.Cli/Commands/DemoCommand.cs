using System.CommandLine;
using Tally.Server.Demo;

namespace Tally.Cli.Commands;

public static class DemoCommand
{
    public static Command Create()
    {
        var days = new Option<int>("--days") { Description = "Days of history, ending today", DefaultValueFactory = _ => DemoData.DefaultDays };
        var perDay = new Option<int>("--per-day") { Description = "Events per day, roughly", DefaultValueFactory = _ => DemoData.DefaultEventsPerDay };
        var command = new Command("demo", "Load realistic demo usage (records, downloads, robots, double-clicks) through the normal pipeline, then aggregate")
        {
            days, perDay,
        };
        command.SetRuntimeAction(async (runtime, parse, cancellationToken) =>
        {
            if (parse.GetValue(days) is < 1 or > 3660) return CommonOptions.Fail("--days must be from 1 to 3660");
            if (parse.GetValue(perDay) is < 1 or > 10_000_000) return CommonOptions.Fail("--per-day must be from 1 to 10000000");
            var stored = await CommonOptions.WithProgressAsync("Loading demo usage", report =>
                DemoData.SeedAsync(runtime, parse.GetValue(days), parse.GetValue(perDay),
                    new SynchronousProgress<DemoProgress>(p => report((double)p.DaysDone / p.DaysTotal, $"{p.Stored:N0} events")), cancellationToken));
            Console.WriteLine($"Stored {stored:N0} new demo events in {Path.GetFullPath(runtime.Options.DataDirectory)} and aggregated them.");
            return 0;
        });
        return command;
    }
}
