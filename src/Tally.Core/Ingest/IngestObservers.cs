using Tally.Core.Events;

namespace Tally.Core.Ingest;

/// <summary>Hears of every batch the ingest path stored, such as a live view or a counter; called on the ingest path, so it must be quick.</summary>
public interface IStoredEventsObserver
{
    /// <param name="stored">Per event, whether it was stored (false: a duplicate of one already stored).</param>
    void Stored(IReadOnlyList<TallyEvent> events, IReadOnlyList<bool> stored);
}

/// <summary>Where an ingest node hands accepted events to the workers that process and store them (a durable queue).</summary>
public interface IEventHandOff
{
    /// <summary>Returns once the events are durably handed over.</summary>
    Task HandOffAsync(IReadOnlyList<TallyEvent> events, CancellationToken cancellationToken);
}
