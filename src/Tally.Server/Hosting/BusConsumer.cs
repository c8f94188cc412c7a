using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tally.Amqp;
using Tally.Core.Configuration;
using Tally.Core.Ingest;
using Tally.Sources.Amqp;

namespace Tally.Server.Hosting;

/// <summary>Consumes the RabbitMQ queues in sources.amqp for as long as serve runs.</summary>
public sealed class BusConsumer(TallySchema schema, BusRouting routing, IngestService ingest, TimeProvider clock, ILogger<BusConsumer> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var amqp = schema.Options.Sources.Amqp;
        var archive = new BusArchive(routing, ingest, clock, logger);
        return new AmqpConsumer(amqp.Uri!, BusArchive.Consumed(amqp), amqp.Prefetch, archive.StoreAsync, clock, logger).RunAsync(stoppingToken);
    }
}
