using Tally.Core.Events;

namespace Tally.Core.Ingest;

/// <summary>Hears of every batch the ingest path stored, such as a live view or a counter; called on the ingest path, so it must be quick.</summary>
public interface IStoredEventsObserver
{
    /// <param name="stored">Per event, whether it was stored (false: a duplicate of one already stored).</param>
    void Stored(IReadOnlyList<TallyEvent> events, IReadOnlyList<bool> stored);
}

/// <summary>
/// Where accepted events wait, durably, to be processed and stored: the data folder's inbox in one process, RabbitMQ
/// between ingest nodes and workers.
/// </summary>
public interface IEventHandOff
{
    /// <summary>
    /// Whether it takes events after processing (the inbox: no raw address or user agent is ever at rest) or as
    /// accepted (RabbitMQ: the workers process them, as they hold the store's salts).
    /// </summary>
    bool TakesProcessed { get; }

    /// <summary>Returns once the events are durably handed over.</summary>
    /// <exception cref="HandOffRefusedException">The queue did not take them.</exception>
    Task HandOffAsync(IReadOnlyList<TallyEvent> events, CancellationToken cancellationToken);
}

/// <summary>The queue did not take the events: nothing of the request is known to be kept, and the client may send it again.</summary>
public sealed class HandOffRefusedException(string message, Exception? inner = null) : Exception(message, inner);
