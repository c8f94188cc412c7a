using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tally.Server.Runtime;
using Tally.Sources.Amqp;

namespace Tally.Server.Hosting;

/// <summary>Consumes the RabbitMQ queues in sources.amqp for as long as serve runs.</summary>
public sealed class BusConsumer(TallyRuntime runtime, ILogger<BusConsumer> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var amqp = runtime.Schema.Options.Sources.Amqp;
        var archive = new BusArchive(runtime.Bus!, runtime.Ingest, runtime.Clock, logger);
        return new AmqpConsumer(amqp.Uri!, amqp.Queues, amqp.Prefetch, archive.StoreAsync, runtime.Clock, logger).RunAsync(stoppingToken);
    }
}
