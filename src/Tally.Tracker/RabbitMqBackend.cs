using System.Buffers;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RabbitMQ.Client.Exceptions;
using Tally.Amqp;

namespace Tally.Tracker;

/// <summary>Where and how a <see cref="RabbitMqBackend"/> publishes.</summary>
public sealed record RabbitMqBackendOptions
{
    /// <summary>The broker, e.g. amqp://user:password@127.0.0.1:5672/%2f.</summary>
    public required Uri Uri { get; init; }

    /// <summary>The exchange Tally's workers or bus source read from.</summary>
    public string Exchange { get; init; } = "tally";

    /// <summary>The routing key; by default the event's name, so a topic exchange can route by type.</summary>
    public string? RoutingKey { get; init; }

    /// <summary>Events held while the broker is away; past this, new events are dropped (and counted).</summary>
    public int Capacity { get; init; } = 100_000;

    /// <summary>Events published together and confirmed as one group.</summary>
    public int BatchSize { get; init; } = 500;

    public TimeSpan MinRetryDelay { get; init; } = TimeSpan.FromMilliseconds(500);
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long disposing keeps trying to publish what is held.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>
/// Publishes each event as one persistent message (Tally's NDJSON line, message id = event id) and
/// waits for the broker's confirm, a group at a time. While the broker is away or refuses, the group
/// is published again after a jittered backoff on a new connection; the event ids make the repeats
/// harmless. A message no queue is bound to take is logged and counted as failed, not retried.
/// </summary>
public sealed class RabbitMqBackend : ITrackerBackend, IAsyncDisposable
{
    private readonly RabbitMqBackendOptions _options;
    private readonly string _name;
    private readonly ILogger _logger;
    private readonly Channel<TrackerEvent> _held;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _loop;
    private AmqpPublisher? _publisher;
    private long _pending;
    private readonly DrainSignal _drained = new();

    public RabbitMqBackend(RabbitMqBackendOptions options, string name = "rabbitmq", ILogger? logger = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BatchSize, 1);
        _options = options;
        _name = name;
        _logger = logger ?? NullLogger.Instance;
        _held = Channel.CreateBounded<TrackerEvent>(new BoundedChannelOptions(options.Capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        _loop = Task.Run(PublishLoopAsync);
    }

    public void Send(TrackerEvent trackerEvent)
    {
        Interlocked.Increment(ref _pending);
        if (_held.Writer.TryWrite(trackerEvent)) return;
        TrackerMetrics.Dropped(_name);
        Settled(1);
    }

    /// <summary>Returns once the broker has confirmed (or refused for good) every event sent so far.</summary>
    public Task FlushAsync(CancellationToken cancellationToken = default) =>
        _drained.WaitAsync(() => Interlocked.Read(ref _pending) == 0, null, cancellationToken);

    private void Settled(int count)
    {
        if (Interlocked.Add(ref _pending, -count) == 0) _drained.Drained();
    }

    private async Task PublishLoopAsync()
    {
        var stopping = _stopping.Token;
        var group = new List<TrackerEvent>(_options.BatchSize);
        var line = new ArrayBufferWriter<byte>(1024);
        using var writer = new Utf8JsonWriter(line);
        try
        {
            while (await _held.Reader.WaitToReadAsync(stopping))
            {
                while (group.Count < _options.BatchSize && _held.Reader.TryRead(out var next)) group.Add(next);
                var messages = group.Select(e => new OutgoingMessage(_options.RoutingKey ?? e.Name, Serialize(e, writer, line), e.Id, e.Timestamp)).ToList();
                await PublishUntilSettledAsync(messages, stopping);
                Settled(group.Count);
                group.Clear();
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Disposing gave up; what is held is lost with the process, as the log says.
        }
    }

    private static byte[] Serialize(TrackerEvent trackerEvent, Utf8JsonWriter writer, ArrayBufferWriter<byte> line)
    {
        line.ResetWrittenCount();
        writer.Reset();
        TallyEventLine.Write(writer, trackerEvent);
        writer.Flush();
        return line.WrittenSpan.ToArray();
    }

    private async Task PublishUntilSettledAsync(List<OutgoingMessage> messages, CancellationToken stopping)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                _publisher ??= await AmqpPublisher.ConnectAsync(_options.Uri.ToString(), _options.Exchange, stopping);
                await _publisher.PublishAsync(messages, stopping);
                if (attempt > 1) _logger.LogInformation("Tracker backend {Backend}: the broker took the events again", _name);
                return;
            }
            catch (PublishRefusedException e) when (e.InnerException is PublishException { IsReturn: true })
            {
                TrackerMetrics.Failed(_name, messages.Count);
                _logger.LogError("Tracker backend {Backend}: {Reason}; {Count} events were not delivered", _name, e.Message, messages.Count);
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The broker is away, refused, or closed the channel: a new connection, after a while, may do.
                if (attempt == 1) _logger.LogWarning("Tracker backend {Backend}: publishing to {Exchange} failed ({Reason}); {Count} events are held and published again", _name, _options.Exchange, e.Message, messages.Count);
                await DropPublisherAsync();
                await Task.Delay(Backoff.Delay(attempt, _options.MinRetryDelay, _options.MaxRetryDelay), stopping);
            }
        }
    }

    private async Task DropPublisherAsync()
    {
        if (_publisher is null) return;
        try { await _publisher.DisposeAsync(); }
        catch (Exception e) when (e is OperationInterruptedException or AlreadyClosedException or IOException) { }
        _publisher = null;
    }

    /// <summary>Keeps publishing what is held for <see cref="RabbitMqBackendOptions.ShutdownTimeout"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        _held.Writer.TryComplete();
        _stopping.CancelAfter(_options.ShutdownTimeout);
        await _loop;
        var lost = Interlocked.Read(ref _pending);
        if (lost > 0)
        {
            TrackerMetrics.Failed(_name, lost);
            _logger.LogError("Tracker backend {Backend}: the broker did not take {Count} events before shutdown; they are lost", _name, lost);
        }
        await DropPublisherAsync();
        _stopping.Dispose();
    }
}
