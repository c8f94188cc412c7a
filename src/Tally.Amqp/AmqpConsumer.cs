using System.Globalization;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Tally.Amqp;

/// <summary>One message as the bus delivered it. <see cref="HeadersJson"/> is the AMQP headers table as a JSON object.</summary>
public sealed record BusMessage(string Topic, string? MessageId, DateTime? Timestamp, string? HeadersJson, ReadOnlyMemory<byte> Body);

/// <summary>A queue to consume: declared durable, and bound to <paramref name="Exchange"/> (a topic exchange) by each of <paramref name="Bindings"/>.</summary>
public sealed record ConsumedQueue(string Name, string Exchange, IReadOnlyList<string> Bindings);

/// <summary>Stores what a batch of messages from one queue became; returns once it is committed.</summary>
public delegate Task DeliveryHandler(string queue, IReadOnlyList<BusMessage> messages, CancellationToken cancellationToken);

/// <summary>
/// Consumes queues and hands each batch of deliveries to a handler; a batch is acknowledged only
/// once the handler has committed it. A redelivered message (after a crash or a lost connection)
/// must therefore be stored once by the handler, which every Tally handler does through event ids.
/// </summary>
public sealed class AmqpConsumer(string uri, IReadOnlyList<ConsumedQueue> queues, ushort prefetch, DeliveryHandler handler, TimeProvider clock, ILogger logger)
{
    private static readonly TimeSpan FirstRetry = TimeSpan.FromSeconds(1), LastRetry = TimeSpan.FromSeconds(30);

    /// <summary>Consumes until cancelled, reconnecting with backoff whenever the broker goes away.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var retry = FirstRetry;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await ConsumeUntilDisconnectedAsync(() => retry = FirstRetry, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // Unacknowledged messages go back to the queue with the connection; nothing is lost.
                logger.LogWarning("RabbitMQ consumer stopped ({Problem}); reconnecting in {Seconds} s", e.Message, retry.TotalSeconds);
            }
            try { await Task.Delay(retry, clock, cancellationToken); }
            catch (OperationCanceledException) { return; }
            retry = TimeSpan.FromTicks(Math.Min(retry.Ticks * 2, LastRetry.Ticks));
        }
    }

    private async Task ConsumeUntilDisconnectedAsync(Action connected, CancellationToken cancellationToken)
    {
        var factory = new ConnectionFactory
        {
            Uri = new Uri(uri),
            // Reconnection is done here, so that a new connection starts from a clean state.
            AutomaticRecoveryEnabled = false,
            ClientProvidedName = $"tally consumer {Environment.MachineName}/{Environment.ProcessId}",
        };
        await using var connection = await factory.CreateConnectionAsync(cancellationToken);
        connected();
        var lost = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        connection.ConnectionShutdownAsync += (_, e) =>
        {
            lost.TrySetException(new IOException($"connection closed: {e.ReplyText}"));
            return Task.CompletedTask;
        };
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var consuming = queues.Select(queue => ConsumeQueueAsync(connection, queue, stop.Token)).ToList();
        // Whichever ends first (a queue's channel, the connection, or the host) ends them all.
        var first = await Task.WhenAny([.. consuming, lost.Task, Task.Delay(Timeout.Infinite, cancellationToken)]);
        await stop.CancelAsync();
        try { await Task.WhenAll(consuming); }
        catch (Exception)
        {
            // The others end by the same cause or by the cancellation; the first one to end says why.
        }
        await first;
    }

    private async Task ConsumeQueueAsync(IConnection connection, ConsumedQueue queue, CancellationToken cancellationToken)
    {
        await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        await channel.BasicQosAsync(0, prefetch, global: false, cancellationToken);
        // The amq.* exchanges always exist and may not be declared.
        if (!queue.Exchange.StartsWith("amq.", StringComparison.Ordinal))
            await channel.ExchangeDeclareAsync(queue.Exchange, ExchangeType.Topic, durable: true, autoDelete: false, cancellationToken: cancellationToken);
        await channel.QueueDeclareAsync(queue.Name, durable: true, exclusive: false, autoDelete: false, cancellationToken: cancellationToken);
        foreach (var binding in queue.Bindings)
            await channel.QueueBindAsync(queue.Name, queue.Exchange, binding, cancellationToken: cancellationToken);

        var deliveries = Channel.CreateUnbounded<Delivery>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        channel.ChannelShutdownAsync += (_, e) =>
        {
            deliveries.Writer.TryComplete(new IOException($"channel for queue '{queue.Name}' closed: {e.ReplyText}"));
            return Task.CompletedTask;
        };
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += (_, delivery) =>
        {
            // The body is only valid during this callback, so it is copied.
            var properties = delivery.BasicProperties;
            var message = new BusMessage(delivery.RoutingKey, properties.MessageId, SentAt(properties), AmqpHeaders.ToJson(properties.Headers), delivery.Body.ToArray());
            deliveries.Writer.TryWrite(new Delivery(delivery.DeliveryTag, message));
            return Task.CompletedTask;
        };
        await channel.BasicConsumeAsync(queue.Name, autoAck: false, consumer, cancellationToken);
        logger.LogInformation("Consuming RabbitMQ queue {Queue} (exchange {Exchange}, bindings {Bindings})", queue.Name, queue.Exchange, string.Join(" ", queue.Bindings));

        var batch = new List<Delivery>(prefetch);
        while (await deliveries.Reader.WaitToReadAsync(cancellationToken))
        {
            batch.Clear();
            while (batch.Count < prefetch && deliveries.Reader.TryRead(out var delivery)) batch.Add(delivery);
            await handler(queue.Name, batch.Select(d => d.Message).ToList(), cancellationToken);
            await channel.BasicAckAsync(batch[^1].Tag, multiple: true, cancellationToken);
        }
    }

    /// <summary>The AMQP timestamp, or fedora-messaging's sent-at header; null when the publisher gave neither.</summary>
    private static DateTime? SentAt(IReadOnlyBasicProperties properties)
    {
        if (properties.IsTimestampPresent() && properties.Timestamp.UnixTime > 0)
            return DateTimeOffset.FromUnixTimeSeconds(properties.Timestamp.UnixTime).UtcDateTime;
        if (properties.Headers?.TryGetValue("sent-at", out var sentAt) == true && sentAt is byte[] text
            && DateTimeOffset.TryParse(Encoding.UTF8.GetString(text), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed))
            return parsed.UtcDateTime;
        return null;
    }

    private sealed record Delivery(ulong Tag, BusMessage Message);
}
