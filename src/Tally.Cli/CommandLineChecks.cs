using System.CommandLine;
using System.CommandLine.Completions;
using System.CommandLine.Parsing;
using System.Globalization;
using Tally.Cli.Served;
using Tally.Core.Configuration;

namespace Tally.Cli;

/// <summary>
/// Checks the whole command line before any command starts, so that a mistake costs nothing: options the command does
/// not have (also where a FILE or NAME=VALUE argument would have taken them as a value), values of the wrong kind and
/// missing input files are all reported, in the user's words, with a "did you mean" for near misses and exit code 2.
/// </summary>
public static class CommandLineChecks
{
    public const int UsageError = 2;

    /// <summary>Arguments and options whose values are paths, which a command sent to a server needs made absolute (all marked as commands are made, at start).</summary>
    public static IReadOnlyCollection<Symbol> Paths => PathSymbols;

    private static readonly HashSet<Symbol> PathSymbols = [];

    /// <summary>Options whose values are stores (ENGINE:CONNECTION), whose folders a command sent to a server needs made absolute.</summary>
    public static IReadOnlyCollection<Option> StoreLocations => StoreSymbols;

    private static readonly HashSet<Option> StoreSymbols = [];
    private static readonly Lock ParseLock = new();

    /// <summary>Checks the command line and runs it, writing to <see cref="CommandConsole.Current"/>; a served command is cancelled by <paramref name="cancellationToken"/>, one run here by Ctrl+C.</summary>
    public static Task<int> RunAsync(RootCommand root, string[] args, CancellationToken cancellationToken = default)
    {
        var console = CommandConsole.Current;
        ParseResult parse;
        // The switch below is the root command's, and a server parses the command lines it is sent side by side.
        lock (ParseLock)
        {
            // Words no command takes are left to Problems, which suggests from the command's own names. Set on the root
            // command, this covers every command; it is needed only while parsing (help would offer "additional arguments").
            root.TreatUnmatchedTokensAsErrors = false;
            parse = root.Parse(args);
            root.TreatUnmatchedTokensAsErrors = true;
        }
        var invocation = new InvocationConfiguration { Output = console.Out, Error = console.Error };
        // A served command must not take over the server's own Ctrl+C.
        if (console.IsServed) invocation.ProcessTerminationTimeout = null;
        // --help and --version answer even on a line with mistakes.
        if (parse.Action is { ClearsParseErrors: true }) return parse.InvokeAsync(invocation, cancellationToken);
        var problems = Problems(parse).Distinct().ToList();
        if (problems.Count == 0) return parse.InvokeAsync(invocation, cancellationToken);
        foreach (var problem in problems) console.Error.WriteLine($"tally: {problem}");
        console.Error.WriteLine($"Run '{PathOf(parse.CommandResult)} --help' for its usage.");
        return Task.FromResult(UsageError);
    }

    /// <summary>Marks the values of <paramref name="option"/> as stores (see <see cref="StoreLocations"/>).</summary>
    public static TOption IsStoreLocation<TOption>(this TOption option) where TOption : Option
    {
        StoreSymbols.Add(option);
        return option;
    }

    /// <summary>Marks the values of <paramref name="symbol"/> as paths (see <see cref="Paths"/>).</summary>
    public static TSymbol IsPath<TSymbol>(this TSymbol symbol) where TSymbol : Symbol
    {
        PathSymbols.Add(symbol);
        return symbol;
    }

    /// <summary>Whether a word on the command line is written as an option; "-" alone is standard input.</summary>
    public static bool LooksLikeOption(string word) => word.Length > 1 && word[0] == '-';

    /// <summary>Paths that must exist when the command is run; "-" (standard input) passes, and so does everything while <paramref name="unless"/> is set.</summary>
    public static TArgument MustExist<TArgument>(this TArgument argument, bool directory = false, Option<bool>? unless = null) where TArgument : Argument
    {
        argument.IsPath();
        argument.Validators.Add(result =>
        {
            if (unless is not null && result.TryGetValue(unless, out var skip) && skip) return;
            foreach (var path in result.Tokens.Select(t => t.Value).Where(p => p != "-" && !LooksLikeOption(p)))
            {
                if (directory ? Directory.Exists(path) : File.Exists(path)) continue;
                result.AddError($"{path}: {(directory ? "no such folder" : Directory.Exists(path) ? "a folder, not a file" : "no such file")}");
            }
        });
        return argument;
    }

    public static Option<int> InRange(this Option<int> option, int min, int max = int.MaxValue) => InRangeWhenGiven(option, min, max);

    /// <summary>An optional number, checked when it is given.</summary>
    public static Option<int?> InRange(this Option<int?> option, int min, int max = int.MaxValue) => InRangeWhenGiven(option, min, max);

    private static Option<T> InRangeWhenGiven<T>(Option<T> option, int min, int max)
    {
        option.Validators.Add(result =>
        {
            if (!result.TryGetValue(option, out var given) || given is not int value || (value >= min && value <= max)) return;
            var range = max == int.MaxValue ? $"at least {min}" : $"from {min} to {max}";
            result.AddError(string.Create(CultureInfo.InvariantCulture, $"{option.Name} must be {range}, got {value}"));
        });
        return option;
    }

    /// <summary>
    /// The value of <paramref name="option"/> for a validator, which runs before values are converted; false when it
    /// cannot be converted, which the parser reports in its own error.
    /// </summary>
    public static bool TryGetValue<T>(this SymbolResult result, Option<T> option, out T? value)
    {
        try
        {
            value = result.GetValue(option);
            return true;
        }
        catch (InvalidOperationException)
        {
            value = default;
            return false;
        }
    }

    private static IEnumerable<string> Problems(ParseResult parse)
    {
        var command = parse.CommandResult;
        var takenAsArguments = Lineage(command).SelectMany(c => c.Children.OfType<ArgumentResult>()).SelectMany(a => a.Tokens).Select(t => t.Value);
        foreach (var word in takenAsArguments.Concat(parse.UnmatchedTokens).Where(LooksLikeOption))
            yield return UnknownOption(word, command);
        // A word after an unknown option is most likely its value, and words after the first stray one its consequences.
        var stray = parse.UnmatchedTokens.Where((word, i) => !LooksLikeOption(word) && (i == 0 || !LooksLikeOption(parse.UnmatchedTokens[i - 1])));
        if (stray.FirstOrDefault() is { } first) yield return UnexpectedWord(first, command);
        foreach (var error in parse.Errors) yield return Describe(error);
    }

    private static string UnknownOption(string word, CommandResult command)
    {
        var options = Lineage(command).SelectMany((c, depth) => c.Command.Options.Where(o => !o.Hidden && (depth == 0 || o.Recursive))).ToList();
        var name = word.Split('=', ':')[0];
        return NearestName.Find(name, options.SelectMany(o => o.Aliases.Prepend(o.Name))) is { } nearest
            ? $"{word} is not an option of '{PathOf(command)}'; did you mean {nearest}?"
            : $"{word} is not an option of '{PathOf(command)}', which takes {string.Join(", ", options.Select(o => o.Name))}";
    }

    private static string UnexpectedWord(string word, CommandResult command)
    {
        var subcommands = command.Command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name).ToList();
        if (subcommands.Count == 0) return $"'{word}' is one argument too many for '{PathOf(command)}'";
        return NearestName.Find(word, subcommands) is { } nearest
            ? $"'{word}' is not a command of '{PathOf(command)}'; did you mean {nearest}?"
            : $"'{word}' is not a command of '{PathOf(command)}', which has {string.Join(", ", subcommands)}";
    }

    /// <summary>The parser's complaint, said again in the user's words when it is about a value of the wrong kind.</summary>
    private static string Describe(ParseError error)
    {
        var result = error.SymbolResult is ArgumentResult { Parent: OptionResult option } ? option : error.SymbolResult;
        var (name, type, completions) = result switch
        {
            OptionResult o => (o.Option.Name, o.Option.ValueType, o.Option.GetCompletions(CompletionContext.Empty)),
            ArgumentResult a => (a.Argument.Name, a.Argument.ValueType, a.Argument.GetCompletions(CompletionContext.Empty)),
            _ => ("", typeof(void), []),
        };
        type = Nullable.GetUnderlyingType(type) ?? (type.IsArray ? type.GetElementType()! : type);
        // Enumerations are matched ignoring case, and written in lower case everywhere else.
        var choices = completions.Select(c => type.IsEnum ? c.Label.ToLowerInvariant() : c.Label).ToList();
        foreach (var value in result?.Tokens.Select(t => t.Value) ?? [])
        {
            if (choices.Count > 0 && !choices.Contains(value, StringComparer.OrdinalIgnoreCase))
            {
                var hint = NearestName.Find(value, choices) is { } nearest ? $"; did you mean {nearest}?" : "";
                return $"{name} must be one of {string.Join(", ", choices)}, got \"{value}\"{hint}";
            }
            if (choices.Count == 0 && Expected(type, value) is { } expected) return $"{name} must be {expected}, got \"{value}\"";
        }
        return error.Message;
    }

    private static string? Expected(Type type, string value)
    {
        if (type == typeof(int)) return int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _) ? null : "a whole number";
        if (type == typeof(DateOnly)) return DateOnly.TryParseExact(value, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out _) ? null : "a date written yyyy-mm-dd";
        return null;
    }

    /// <summary>The command and the commands it is under, innermost first.</summary>
    private static IEnumerable<CommandResult> Lineage(CommandResult command)
    {
        for (SymbolResult? result = command; result is not null; result = result.Parent)
            if (result is CommandResult c) yield return c;
    }

    private static string PathOf(CommandResult command) => string.Join(' ', Lineage(command).Reverse().Select(c => c.Command.Name));
}
