using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tally.Amqp;
using Tally.Core.Accept;
using Tally.Core.Configuration;
using Tally.Core.Ingest;
using Tally.Queue;

namespace Tally.Server.Hosting;

/// <summary>A worker's share of the queue ingest nodes publish to: process, store, then acknowledge.</summary>
public sealed class QueueWorker(TallySchema schema, EventParser parser, IngestService ingest, TimeProvider clock, ILogger<QueueWorker> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var queue = schema.Options.Queue;
        var handler = EventQueue.Worker(parser, ingest, logger);
        return new AmqpConsumer(queue.Uri!, [EventQueue.Consumed(queue)], queue.Prefetch, handler, clock, logger).RunAsync(stoppingToken);
    }
}
