using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Tally.Tracker;

/// <summary>What an <see cref="AsyncRoutingBackend"/> does when its buffer is full.</summary>
public enum BufferFullPolicy
{
    /// <summary>Drop the event being emitted; the caller never waits.</summary>
    DropNewest,
    /// <summary>Drop the oldest buffered event to make room; the caller never waits.</summary>
    DropOldest,
    /// <summary>Make the caller wait for room, up to a timeout, then drop the event.</summary>
    Block,
}

/// <summary>
/// Hands events to another backend on a background task, so emitting never waits on I/O. The buffer
/// is bounded; when it is full the policy decides. Dropped and failed events are counted on the
/// <see cref="TrackerMetrics"/> meter (tally.tracker.dropped, tally.tracker.failed) and the buffer's length is
/// observable (tally.tracker.buffered). Disposing flushes what is buffered.
/// </summary>
public sealed class AsyncRoutingBackend : ITrackerBackend, IAsyncDisposable
{
    private readonly ITrackerBackend _inner;
    private readonly BufferFullPolicy _policy;
    private readonly TimeSpan _blockTimeout;
    private readonly ILogger _logger;
    private readonly Channel<TrackerEvent> _buffer;
    private readonly Task _loop;
    private readonly string _name;
    private long _pending;
    private readonly DrainSignal _drained = new();

    public AsyncRoutingBackend(
        ITrackerBackend inner, string name = "async", int capacity = 10_000, BufferFullPolicy policy = BufferFullPolicy.DropNewest,
        TimeSpan? blockTimeout = null, ILogger? logger = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _inner = inner;
        _policy = policy;
        _blockTimeout = blockTimeout ?? TimeSpan.FromSeconds(1);
        _logger = logger ?? NullLogger.Instance;
        _name = name;
        _buffer = Channel.CreateBounded<TrackerEvent>(
            new BoundedChannelOptions(capacity)
            {
                SingleReader = true,
                FullMode = policy switch
                {
                    BufferFullPolicy.DropOldest => BoundedChannelFullMode.DropOldest,
                    BufferFullPolicy.DropNewest => BoundedChannelFullMode.DropWrite,
                    _ => BoundedChannelFullMode.Wait,
                },
            },
            _ => OnDropped());
        TrackerMetrics.Meter.CreateObservableGauge("tally.tracker.buffered",
            () => new Measurement<long>(Interlocked.Read(ref _pending), new KeyValuePair<string, object?>("backend", name)), "{event}", "Events waiting to be sent");
        _loop = Task.Run(SendLoopAsync);
    }

    public void Send(TrackerEvent trackerEvent)
    {
        Interlocked.Increment(ref _pending);
        if (_buffer.Writer.TryWrite(trackerEvent)) return;
        if (_policy == BufferFullPolicy.Block && WaitForRoom(trackerEvent)) return;
        // Full under Block past the timeout, or the backend is shut down.
        OnDropped();
    }

    private bool WaitForRoom(TrackerEvent trackerEvent)
    {
        using var timeout = new CancellationTokenSource(_blockTimeout);
        try
        {
            _buffer.Writer.WriteAsync(trackerEvent, timeout.Token).AsTask().GetAwaiter().GetResult();
            return true;
        }
        catch (Exception e) when (e is OperationCanceledException or ChannelClosedException)
        {
            return false;
        }
    }

    private void OnDropped()
    {
        TrackerMetrics.Dropped(_name);
        Done();
    }

    /// <summary>Returns once every event sent so far has been handed on (or failed), and the backend behind has flushed.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        await _drained.WaitAsync(() => Interlocked.Read(ref _pending) == 0, null, cancellationToken);
        await _inner.FlushAsync(cancellationToken);
    }

    private async Task SendLoopAsync()
    {
        await foreach (var trackerEvent in _buffer.Reader.ReadAllAsync())
        {
            try
            {
                _inner.Send(trackerEvent);
            }
            catch (Exception e)
            {
                TrackerMetrics.Failed(_name);
                _logger.LogError(e, "Tracker backend failed on event {Name}", trackerEvent.Name);
            }
            Done();
        }
    }

    private void Done()
    {
        if (Interlocked.Decrement(ref _pending) == 0) _drained.Drained();
    }

    /// <summary>Stops taking events and sends what is buffered; later calls do nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_buffer.Writer.TryComplete()) return;
        await _loop;
        await RoutingBackend.DisposeBackendAsync(_inner);
    }
}
