using System.CommandLine;
using Spectre.Console;
using Tally.Cli.Served;
using Tally.Core.Configuration;
using Tally.Core.Query;
using Tally.Hosting;

namespace Tally.Cli;

/// <summary>Options every command takes, and the one way commands open Tally's services and report failure.</summary>
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

    public static readonly Option<string?> Store = new Option<string?>("--store")
    {
        Description = "The store to use instead of the configured one: duckdb:DIR, sqlite:DIR, postgres:CONNECTION-STRING or clickhouse:URL",
        HelpName = "ENGINE:CONNECTION",
        Recursive = true,
    }.IsStoreLocation();

    public static TallyHostOptions HostOptions(ParseResult parse, bool demo = false, ServerRole role = ServerRole.All) =>
        new(parse.GetValue(Data)!, parse.GetValue(Config), demo, Store: parse.GetValue(Store), Role: role);

    /// <summary>
    /// Opens Tally's services, runs <paramref name="work"/> with them, and turns the failures a user can fix
    /// into a one-line message and exit code 2 instead of a stack trace.
    /// </summary>
    /// <param name="demo">Whether to open with the demo set-up (its admin key and institutions).</param>
    public static void SetTallyAction(
        this Command command, Func<IServiceProvider, ParseResult, CancellationToken, Task<int>> work, bool setup = true, Func<ParseResult, bool>? demo = null) =>
        command.SetTallyAction((_, _) => true, (services, parse, _, cancellationToken) => work(services, parse, cancellationToken), setup, demo);

    /// <summary>
    /// As above, with the arguments that only the configuration can judge (a query's name) checked by
    /// <paramref name="prepare"/> once it is read and before the store is opened. It throws
    /// <see cref="UsageException"/> for a bad one, and hands <paramref name="work"/> what it worked out.
    /// </summary>
    public static void SetTallyAction<TPrepared>(
        this Command command, Func<TallySchema, ParseResult, TPrepared> prepare, Func<IServiceProvider, ParseResult, TPrepared, CancellationToken, Task<int>> work,
        bool setup = true, Func<ParseResult, bool>? demo = null) =>
        command.SetReportingAction(async (parse, cancellationToken) =>
        {
            if (await ServedCommands.TryForwardAsync(parse, [ServedCommands.ConfiguredStore(parse)], cancellationToken) is { } exitCode) return exitCode;
            TPrepared prepared = default!;
            await using var services = await TallyServices.OpenAsync(
                HostOptions(parse, demo is not null && demo(parse)), setup, schema => prepared = prepare(schema, parse), cancellationToken);
            return await work(services, parse, prepared, cancellationToken);
        });

    /// <summary>Runs <paramref name="work"/>, reporting a configuration, usage or query parameter error in one line with exit code 2, and a Ctrl+C with 130.</summary>
    public static void SetReportingAction(this Command command, Func<ParseResult, CancellationToken, Task<int>> work) =>
        command.SetAction(async (parse, cancellationToken) =>
        {
            try
            {
                return await work(parse, cancellationToken);
            }
            catch (Exception e) when (e is ConfigurationException or UsageException or QueryParameterException)
            {
                return Fail(e.Message);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                CommandConsole.Current.Error.WriteLine("tally: cancelled");
                return 130;
            }
        });

    /// <summary>NAME=VALUE parameters, as the HTTP API takes them; their form is checked with the rest of the command line.</summary>
    public static Argument<string[]> Parameters(string description, bool repeatable)
    {
        var parameters = new Argument<string[]>("params") { Description = description, Arity = ArgumentArity.ZeroOrMore };
        parameters.Validators.Add(result =>
        {
            var names = new HashSet<string>(StringComparer.Ordinal);
            // An unknown option is reported as such, and the word after it taken for its value.
            var words = result.Tokens.Select(t => t.Value).ToList();
            foreach (var word in words.Where((w, i) => !CommandLineChecks.LooksLikeOption(w) && (i == 0 || !CommandLineChecks.LooksLikeOption(words[i - 1]))))
            {
                var name = word.Split('=', 2)[0];
                if (name.Length == word.Length || name.Length == 0) result.AddError($"'{word}' must be written NAME=VALUE");
                else if (!names.Add(name) && !repeatable) result.AddError($"{name} is given twice");
            }
        });
        return parameters;
    }

    /// <summary>The NAME=VALUE parameters given, in order.</summary>
    public static IEnumerable<(string Name, string Value)> Pairs(this ParseResult parse, Argument<string[]> parameters) =>
        (parse.GetValue(parameters) ?? []).Select(word => word.Split('=', 2)).Select(pair => (pair[0], pair[1]));

    /// <summary>
    /// The NAME=VALUE parameters, grouped by name as a query string gives them, read by one of the core's request
    /// parsers; what it refuses is a usage error.
    /// </summary>
    public static T ReadParameters<T>(this ParseResult parse, Argument<string[]> parameters, Func<IEnumerable<KeyValuePair<string, IReadOnlyList<string>>>, T> read)
    {
        try
        {
            return read(parse.Pairs(parameters).GroupBy(p => p.Name)
                .Select(g => new KeyValuePair<string, IReadOnlyList<string>>(g.Key, [.. g.Select(p => p.Value)])));
        }
        catch (QueryParameterException e)
        {
            throw new UsageException(e.Message);
        }
    }

    /// <summary>
    /// What an empty answer says on stderr: where the data is, as the options that ask for it. Old logs land outside
    /// the default range, and a user should not have to guess that.
    /// </summary>
    /// <param name="empty">"No data from … to …", in the answer's own words.</param>
    /// <param name="noneStored">What is said when there is no data at all.</param>
    /// <param name="extent">Where the data runs, from its first and last period.</param>
    /// <param name="ask">The options that ask for that range.</param>
    public static string WhereTheDataIs(string empty, DateOnly from, DateOnly to, (DateOnly First, DateOnly Last)? stored,
        string noneStored, Func<DateOnly, DateOnly, string> extent, Func<DateOnly, DateOnly, string> ask)
    {
        if (stored is not var (first, last)) return $"{empty}: {noneStored}; import or send events, then run 'tally aggregate'.";
        return first >= from && last <= to
            ? $"{empty} matches the filters; {extent(first, last)}."
            : $"{empty}; {extent(first, last)}: add {ask(first, last)}";
    }

    public static int Fail(string message)
    {
        CommandConsole.Current.Error.WriteLine($"tally: {message}");
        return CommandLineChecks.UsageError;
    }

    /// <summary>Where progress is drawn: standard error, so that what a command writes to standard output (an export) stays clean.</summary>
    private static readonly IAnsiConsole ProgressConsole = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });

    /// <summary>A progress bar on an interactive terminal; plain, occasional lines when output is redirected. Both on standard error.</summary>
    public static Task<T> WithProgressAsync<T>(string description, Func<Action<double, string>, Task<T>> work)
    {
        var console = CommandConsole.Current;
        if (console.IsServed || !ProgressConsole.Profile.Capabilities.Interactive)
        {
            var lastPrinted = -1;
            return work((fraction, detail) =>
            {
                var percent = (int)(fraction * 100);
                if (percent / 10 == lastPrinted / 10 && percent < 100) return;
                lastPrinted = percent;
                console.Error.WriteLine($"{description}: {percent}% {detail}");
            });
        }
        return ProgressConsole.Progress()
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
