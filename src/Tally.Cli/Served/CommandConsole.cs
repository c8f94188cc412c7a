using Spectre.Console;

namespace Tally.Cli.Served;

/// <summary>
/// Where a command writes: this process's console, or, for a command a running server runs for another process
/// (<see cref="ServedCommands"/>), that process's console at the other end of a socket. Commands write through
/// <see cref="Current"/> and never to <see cref="Console"/>, so that a served command's output goes back to whoever
/// asked for it and not into the server's log.
/// </summary>
public sealed class CommandConsole
{
    private static readonly AsyncLocal<CommandConsole?> Served = new();
    private static readonly CommandConsole Local = new(null, null);
    private readonly TextWriter? _out;
    private readonly TextWriter? _error;

    private CommandConsole(TextWriter? output, TextWriter? error)
    {
        (_out, _error) = (output, error);
        Tables = output is null
            ? AnsiConsole.Console
            : AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Interactive = InteractionSupport.No });
    }

    /// <summary>The console of the command running on this flow of control.</summary>
    public static CommandConsole Current => Served.Value ?? Local;

    /// <summary>Whether this command is served: run by the server for a process at the other end of a socket.</summary>
    public bool IsServed => _out is not null;

    public TextWriter Out => _out ?? Console.Out;

    public TextWriter Error => _error ?? Console.Error;

    /// <summary>Where tables are drawn: the terminal's width and colours here, plain text when served.</summary>
    public IAnsiConsole Tables { get; }

    /// <summary>Standard output as bytes (an export), flushed after what was written as text.</summary>
    public Stream OpenStandardOutput()
    {
        Out.Flush();
        return _out is StreamWriter { BaseStream: var stream } ? stream : Console.OpenStandardOutput();
    }

    /// <summary>Makes commands on this flow of control write to <paramref name="output"/> and <paramref name="error"/>.</summary>
    public static void Serve(TextWriter output, TextWriter error) => Served.Value = new CommandConsole(output, error);
}
