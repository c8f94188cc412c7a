using System.Buffers;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using Tally.Amqp;
using Tally.Core.Accept;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Ingest;

namespace Tally.Queue;

/// <summary>
/// The queue between ingest nodes and workers when Tally runs scaled out. An ingest node publishes
/// each accepted request as one persistent NDJSON message, with the ids it gave the events, and
/// answers only once the broker confirmed it; workers compete for the messages, process and store
/// them, and acknowledge after the commit. A message delivered twice stores each event once.
/// </summary>
public static class EventQueue
{
    /// <summary>The queue's options as a consumer reads them: the queue bound to the exchange under its own name.</summary>
    public static ConsumedQueue Consumed(QueueOptions queue) => new(queue.Name, queue.Exchange, [queue.Name]);

    /// <summary>A worker's handler: parses the events of each message and stores them through the pipeline.</summary>
    public static DeliveryHandler Worker(EventParser parser, IngestService ingest, ILogger logger) => async (queue, messages, cancellationToken) =>
    {
        var events = new List<TallyEvent>();
        foreach (var message in messages)
        {
            var batch = parser.Parse(message.Body.Span);
            events.AddRange(batch.Events);
            // The ingest node accepted these; a worker refusing one means the two run different configurations.
            foreach (var rejection in batch.Rejections)
                logger.LogError("Queue {Queue}: message {Message}, event {Index} refused by this worker: '{Field}' {Reason}; do the ingest nodes share this configuration?",
                    queue, message.MessageId, rejection.Index, rejection.Field, rejection.Reason);
        }
        var result = await ingest.StoreAsync(events, events.Count, [], cancellationToken);
        logger.LogDebug("Queue {Queue}: {Messages} message(s), {Stored} event(s) stored, {Duplicates} already stored", queue, messages.Count, result.Stored, result.Duplicates);
    };
}

/// <summary>
/// Publishes accepted events for workers. Concurrent requests are published together and confirmed
/// together (group publish), so many small requests cost few broker round trips.
/// </summary>
public sealed class EventQueuePublisher : IEventHandOff, IAsyncDisposable
{
    /// <summary>Workers process what they consume: they share the store's salts, which an ingest node does not read.</summary>
    public bool TakesProcessed => false;

    private readonly QueueOptions _options;
    private readonly Channel<Pending> _pending = Channel.CreateBounded<Pending>(new BoundedChannelOptions(4096) { SingleReader = true });
    private readonly Task _loop;
    private AmqpPublisher? _publisher;

    public EventQueuePublisher(QueueOptions options)
    {
        _options = options;
        _loop = Task.Run(PublishLoopAsync);
    }

    /// <summary>Returns once the broker has the events on disk.</summary>
    /// <exception cref="HandOffRefusedException">The broker is unreachable or refused the message.</exception>
    public async Task HandOffAsync(IReadOnlyList<TallyEvent> events, CancellationToken cancellationToken)
    {
        if (events.Count == 0) return;
        var body = new ArrayBufferWriter<byte>(events.Count * 256);
        EventJson.WriteLines(body, events);
        var pending = new Pending(new OutgoingMessage(_options.Name, body.WrittenMemory, MessageId: events[0].Id, Timestamp: DateTime.UtcNow));
        await _pending.Writer.WriteAsync(pending, cancellationToken);
        await pending.Done.Task.WaitAsync(cancellationToken);
    }

    private async Task PublishLoopAsync()
    {
        var group = new List<Pending>();
        while (await _pending.Reader.WaitToReadAsync())
        {
            group.Clear();
            while (group.Count < 256 && _pending.Reader.TryRead(out var pending)) group.Add(pending);
            try
            {
                _publisher ??= await ConnectAsync();
                await _publisher.PublishAsync(group.Select(p => p.Message).ToList(), CancellationToken.None);
                foreach (var pending in group) pending.Done.TrySetResult();
            }
            catch (Exception e)
            {
                // A broken channel is dropped; the next group connects again.
                if (_publisher is not null) await _publisher.DisposeAsync();
                _publisher = null;
                var refused = new HandOffRefusedException(e is PublishRefusedException ? e.Message : $"the queue at {Redacted(_options.Uri)} is unavailable: {e.Message}", e);
                foreach (var pending in group) pending.Done.TrySetException(refused);
            }
        }
    }

    /// <summary>Declares the exchange, the durable queue and its binding, so events are kept even before any worker has started.</summary>
    private async Task<AmqpPublisher> ConnectAsync()
    {
        var factory = new ConnectionFactory { Uri = new Uri(_options.Uri!) };
        await using (var connection = await factory.CreateConnectionAsync())
        await using (var channel = await connection.CreateChannelAsync())
        {
            await channel.ExchangeDeclareAsync(_options.Exchange, ExchangeType.Topic, durable: true, autoDelete: false);
            await channel.QueueDeclareAsync(_options.Name, durable: true, exclusive: false, autoDelete: false);
            await channel.QueueBindAsync(_options.Name, _options.Exchange, _options.Name);
        }
        return await AmqpPublisher.ConnectAsync(_options.Uri!, _options.Exchange, CancellationToken.None);
    }

    private static string Redacted(string? uri) =>
        Uri.TryCreate(uri, UriKind.Absolute, out var parsed) ? $"{parsed.Scheme}://{parsed.Host}:{parsed.Port}{parsed.AbsolutePath}" : "(no queue.uri)";

    public async ValueTask DisposeAsync()
    {
        _pending.Writer.TryComplete();
        await _loop;
        if (_publisher is not null) await _publisher.DisposeAsync();
    }

    private sealed record Pending(OutgoingMessage Message)
    {
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
