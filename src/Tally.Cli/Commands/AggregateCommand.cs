using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Tally.Core.Aggregate;
using Tally.Cli.Served;

namespace Tally.Cli.Commands;

public static class AggregateCommand
{
    public static Command Create()
    {
        var from = new Option<DateOnly?>("--from") { Description = "First day to aggregate (yyyy-MM-dd); default: all marked days", HelpName = "DAY" };
        var to = new Option<DateOnly?>("--to") { Description = "Last day to aggregate (yyyy-MM-dd)", HelpName = "DAY" };
        var rebuild = new Option<bool>("--rebuild") { Description = "Recompute every day in the range from raw events, not only days with new events" };
        var command = new Command("aggregate", "Roll raw events up into daily and monthly metrics (incremental: only days that received events)")
        {
            from, to, rebuild,
        };
        command.Validators.Add(result =>
        {
            if (result.TryGetValue(from, out var first) && result.TryGetValue(to, out var last) && first > last) result.AddError("--from is after --to");
        });
        command.SetTallyAction(async (services, parse, cancellationToken) =>
        {
            var result = await CommonOptions.WithProgressAsync("Aggregating", report =>
                services.GetRequiredService<Aggregator>().RunAsync(parse.GetValue(from), parse.GetValue(to), parse.GetValue(rebuild),
                    new SynchronousProgress<AggregationProgress>(p => report(p.DaysTotal == 0 ? 1 : (double)p.DaysDone / p.DaysTotal, p.Current)),
                    cancellationToken));
            CommandConsole.Current.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Aggregated {result.Events:N0} events over {result.Days} day(s) and {result.Months} month(s) in {result.Elapsed.TotalSeconds:F2} s."));
            return 0;
        });
        return command;
    }
}
