using Microsoft.Extensions.Logging;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Ingest;
using Tally.Amqp;

namespace Tally.Sources.Amqp;

/// <summary>
/// What sources.amqp does with a batch, as datanommer does: every message is stored, and messages
/// on mapped topics also enter their event type's pipeline.
/// </summary>
public sealed class BusArchive(BusRouting routing, IngestService ingest, TimeProvider clock, ILogger logger)
{
    /// <summary>The queues of sources.amqp as a consumer declares and binds them.</summary>
    public static IReadOnlyList<ConsumedQueue> Consumed(AmqpSourceOptions amqp) =>
        [.. amqp.Queues.Select(q => new ConsumedQueue(q.Name, q.Exchange, q.Bindings))];

    public async Task StoreAsync(string queue, IReadOnlyList<BusMessage> messages, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var events = new List<TallyEvent>(messages.Count * 2);
        foreach (var message in messages)
        {
            var routed = routing.Route(message, now);
            events.Add(routed.Message);
            if (routed.Usage is { } usage) events.Add(usage);
            else if (routed.UsageRejection is { } rejection)
                logger.LogWarning("Message {Id} on {Topic} (queue {Queue}) is stored, but its body is not a usage event: '{Field}' {Reason}",
                    routed.Message.Id, message.Topic, queue, rejection.Field, rejection.Reason);
        }
        var result = await ingest.StoreAsync(events, events.Count, [], cancellationToken);
        logger.LogDebug("Queue {Queue}: {Messages} message(s), {Stored} event(s) stored, {Duplicates} already stored", queue, messages.Count, result.Stored, result.Duplicates);
    }
}
