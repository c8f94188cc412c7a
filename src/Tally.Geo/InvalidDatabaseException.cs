namespace Tally.Geo;

/// <summary>
/// A file that is not a MaxMind DB, or one whose bytes contradict the format: truncated sections, pointers that lead
/// outside their section, unknown data types. The message names the file and what is wrong with it.
/// </summary>
public sealed class InvalidDatabaseException : Exception
{
    public InvalidDatabaseException()
    {
    }

    public InvalidDatabaseException(string message) : base(message)
    {
    }

    public InvalidDatabaseException(string message, Exception innerException) : base(message, innerException)
    {
    }

    public InvalidDatabaseException(string databaseName, string problem, Exception? innerException = null)
        : base($"{databaseName}: {problem}", innerException)
    {
        DatabaseName = databaseName;
        Problem = problem;
    }

    /// <summary>The file (or the name given to an in-memory database) the problem was found in.</summary>
    public string? DatabaseName { get; }

    /// <summary>What is wrong, without the file name.</summary>
    public string? Problem { get; }
}
