using Tally.Core.Accept;

namespace Tally.Sources.Logs;

/// <summary>Tally events, one JSON object per line, exactly as POST /api/v1/events takes them; a line must say when it happened.</summary>
public sealed class NdjsonLogFormat(EventParser parser) : ILogFormat
{
    public string Name => "ndjson";

    public ParsedLine Parse(ReadOnlySpan<byte> line, string lineId, DateTime now)
    {
        var rejection = parser.ParseOne(line, new EventOrigin(lineId, RequireTimestamp: true), out var parsed);
        return rejection is null ? ParsedLine.Of(parsed!) : ParsedLine.Reject(rejection.Field, rejection.Reason);
    }
}
