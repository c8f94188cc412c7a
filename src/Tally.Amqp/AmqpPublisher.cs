using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Tally.Amqp;

/// <summary>One message to publish; <see cref="MessageId"/> lets consumers recognise a message sent twice.</summary>
public sealed record OutgoingMessage(string Topic, ReadOnlyMemory<byte> Body, string? MessageId = null, DateTime? Timestamp = null, IReadOnlyDictionary<string, string>? Headers = null);

/// <summary>The broker refused or could not route a message; nothing after it in the batch is known to be stored.</summary>
public sealed class PublishRefusedException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Publishes persistent messages with publisher confirms: a publish returns only once the broker has
/// taken responsibility for the message (written it to its durable queues), and throws when it
/// refused it or no queue is bound to take it.
/// </summary>
public sealed class AmqpPublisher : IAsyncDisposable
{
    private readonly IConnection _connection;
    private readonly IChannel _channel;
    private readonly string _exchange;

    private AmqpPublisher(IConnection connection, IChannel channel, string exchange)
    {
        _connection = connection;
        _channel = channel;
        _exchange = exchange;
    }

    public static async Task<AmqpPublisher> ConnectAsync(string uri, string exchange, CancellationToken cancellationToken)
    {
        var factory = new ConnectionFactory { Uri = new Uri(uri), ClientProvidedName = $"tally publisher {Environment.MachineName}/{Environment.ProcessId}" };
        var connection = await factory.CreateConnectionAsync(cancellationToken);
        try
        {
            var channel = await connection.CreateChannelAsync(
                new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), cancellationToken);
            return new AmqpPublisher(connection, channel, exchange);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>Publishes the messages together and returns when the broker has confirmed every one of them.</summary>
    /// <exception cref="PublishRefusedException">A message was refused (nack), returned as unroutable, or the channel closed.</exception>
    public async Task PublishAsync(IReadOnlyList<OutgoingMessage> messages, CancellationToken cancellationToken)
    {
        var confirms = new List<Task>(messages.Count);
        foreach (var message in messages)
        {
            var properties = new BasicProperties
            {
                Persistent = true,
                ContentType = "application/json",
                MessageId = message.MessageId,
                Timestamp = new AmqpTimestamp(new DateTimeOffset(message.Timestamp ?? DateTime.UtcNow).ToUnixTimeSeconds()),
                Headers = message.Headers?.ToDictionary(h => h.Key, h => (object?)h.Value),
            };
            // mandatory: a message no queue is bound to take comes back as an error instead of vanishing.
            confirms.Add(_channel.BasicPublishAsync(_exchange, message.Topic, mandatory: true, properties, message.Body, cancellationToken).AsTask());
        }
        try
        {
            await Task.WhenAll(confirms);
        }
        catch (PublishException e)
        {
            throw new PublishRefusedException(e.IsReturn
                ? $"no queue is bound to exchange '{_exchange}' for a message's topic, so the broker returned it"
                : "the broker refused a message (nack)", e);
        }
        catch (Exception e) when (e is AlreadyClosedException or OperationInterruptedException)
        {
            throw new PublishRefusedException($"the broker closed the channel: {e.Message}", e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _channel.DisposeAsync();
        await _connection.DisposeAsync();
    }
}
