using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tally.Server.Runtime;
using Tally.Sources.Amqp;

namespace Tally.Server.Hosting;

/// <summary>A worker's share of the queue ingest nodes publish to: process, store, then acknowledge.</summary>
public sealed class QueueWorker(TallyRuntime runtime, ILogger<QueueWorker> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var queue = runtime.Schema.Options.Queue;
        var handler = EventQueue.Worker(runtime.Parser, runtime.Ingest, logger);
        return new AmqpConsumer(queue.Uri!, [EventQueue.Consumed(queue)], queue.Prefetch, handler, runtime.Clock, logger).RunAsync(stoppingToken);
    }
}
