using Tally.Core.Events;

namespace Tally.Sources.Logs;

public enum LineOutcome { Event, Skipped, Rejected }

/// <summary>What one log line became: an event, nothing that counts (a 404, a page no rule maps), or a rejection naming the field and why.</summary>
public readonly record struct ParsedLine(LineOutcome Outcome, TallyEvent? Event, string? Field, string? Reason)
{
    public static readonly ParsedLine Skipped = new(LineOutcome.Skipped, null, null, null);

    public static ParsedLine Of(TallyEvent e) => new(LineOutcome.Event, e, null, null);

    public static ParsedLine Reject(string field, string reason) => new(LineOutcome.Rejected, null, field, reason);
}

/// <summary>A log format: turns one line into an event. Formats are pure and may be called from several threads.</summary>
public interface ILogFormat
{
    /// <summary>The name the CLI uses: pkp, ndjson or combined.</summary>
    string Name { get; }

    /// <summary>
    /// Parses one line, without its line ending. <paramref name="lineId"/> names the line for good
    /// (its log's key, its line number and a hash of the line, as LogFileImporter.LineId makes it);
    /// it becomes the event id when the line carries none, so loading the same file again stores nothing twice.
    /// </summary>
    ParsedLine Parse(ReadOnlySpan<byte> line, string lineId, DateTime now);
}
