namespace Tally.Cli;

/// <summary>An argument the command cannot work with; the message says why, in the user's words (exit code 2).</summary>
public sealed class UsageException(string message) : Exception(message);
