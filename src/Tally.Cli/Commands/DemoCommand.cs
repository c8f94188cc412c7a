using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Tally.Hosting;
using Tally.Hosting.Demo;
using Tally.Cli.Served;

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
        command.SetTallyAction(async (services, parse, cancellationToken) =>
        {
            var data = services.GetRequiredService<TallyHostOptions>().DataDirectory;
            var stored = await CommonOptions.WithProgressAsync("Loading demo usage", report =>
                services.GetRequiredService<DemoData>().SeedAsync(parse.GetValue(days), parse.GetValue(perDay),
                    new SynchronousProgress<DemoProgress>(p => report((double)p.DaysDone / p.DaysTotal, $"{p.Stored:N0} events")), cancellationToken));
            CommandConsole.Current.Out.WriteLine($"Stored {stored:N0} new demo events in {Path.GetFullPath(data)} and aggregated them.");
            CommandConsole.Current.Out.WriteLine($"'tally serve --demo' serves them with the demo institutions; its admin API key is in {Path.Combine(data, TallyServices.DemoKeyFile)}.");
            return 0;
        }, demo: _ => true);
        return command;
    }
}
