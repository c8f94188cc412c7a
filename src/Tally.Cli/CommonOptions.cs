using System.CommandLine;
using Spectre.Console;
using Tally.Core.Configuration;
using Tally.Server.Runtime;

namespace Tally.Cli;

/// <summary>Options every command takes, and the one way commands open the runtime and report failure.</summary>
public static class CommonOptions
{
    public static readonly Option<string> Data = new("--data")
    {
        Description = "Folder for the embedded database and its files",
        DefaultValueFactory = _ => "./data",
        HelpName = "DIR",
        Recursive = true,
    };

    public static readonly Option<string?> Config = new("--config")
    {
        Description = "Configuration file (tally.json, or appsettings.json with a \"Tally\" section); default ./tally.json if present, else built-in",
        HelpName = "FILE",
        Recursive = true,
    };

    public static readonly Option<string?> Store = new("--store")
    {
        Description = "The store to use instead of the configured one: sqlite:DIR, postgres:CONNECTION-STRING or clickhouse:URL",
        HelpName = "ENGINE:CONNECTION",
        Recursive = true,
    };

    public static RuntimeOptions RuntimeOptions(ParseResult parse, bool demo = false, ServerRole role = ServerRole.All) =>
        new(parse.GetValue(Data)!, parse.GetValue(Config), demo, Store: parse.GetValue(Store), Role: role);

    /// <summary>
    /// Opens the runtime, runs <paramref name="work"/>, and turns the failures a user can fix into a
    /// one-line message and exit code 2 instead of a stack trace.
    /// </summary>
    public static void SetRuntimeAction(
        this Command command, Func<TallyRuntime, ParseResult, CancellationToken, Task<int>> work, bool setup = true, Option<bool>? demo = null, Option<ServerRole>? role = null) =>
        command.SetAction(async (parse, cancellationToken) =>
        {
            try
            {
                var options = RuntimeOptions(parse, demo is not null && parse.GetValue(demo), role is null ? ServerRole.All : parse.GetValue(role));
                await using var runtime = await TallyRuntime.OpenAsync(options, setup, cancellationToken);
                return await work(runtime, parse, cancellationToken);
            }
            catch (ConfigurationException e)
            {
                return Fail(e.Message);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                Console.Error.WriteLine("tally: cancelled");
                return 130;
            }
        });

    public static int Fail(string message)
    {
        Console.Error.WriteLine($"tally: {message}");
        return 2;
    }

    /// <summary>A progress bar on an interactive terminal; plain, occasional lines when output is redirected.</summary>
    public static Task<T> WithProgressAsync<T>(string description, Func<Action<double, string>, Task<T>> work)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            var lastPrinted = -1;
            return work((fraction, detail) =>
            {
                var percent = (int)(fraction * 100);
                if (percent / 10 == lastPrinted / 10 && percent < 100) return;
                lastPrinted = percent;
                Console.Error.WriteLine($"{description}: {percent}% {detail}");
            });
        }
        return AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask(description, maxValue: 1);
                var result = await work((fraction, detail) =>
                {
                    task.Value = fraction;
                    task.Description = $"{description} [grey]{Markup.Escape(detail)}[/]";
                });
                task.Value = 1;
                return result;
            });
    }
}
