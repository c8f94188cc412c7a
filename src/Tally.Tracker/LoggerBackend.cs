using Microsoft.Extensions.Logging;

namespace Tally.Tracker;

/// <summary>Writes each event as one JSON line to an <see cref="ILogger"/>, as edX's logger backend does.</summary>
public sealed class LoggerBackend(ILogger logger, LogLevel level = LogLevel.Information) : ITrackerBackend
{
    public void Send(TrackerEvent trackerEvent)
    {
        if (logger.IsEnabled(level)) logger.Log(level, "{TrackerEvent}", TrackerEventJson.ToJson(trackerEvent));
    }
}
