using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Ingest;
using Tally.Core.Store;

namespace Tally.Queue.Inbox;

/// <summary>
/// The queue between accept and store when one process serves a data folder: the folder's own durable inbox. A request's
/// processed events are written down as one record (<see cref="ProcessedEvents"/>), and the request is answered once the
/// record is on disk: concurrent requests share one fsync. A consumer then stores the records in large batches, which a
/// columnar store writes far faster than many small ones, and records how far it got. Events of a record stored twice (a
/// crash between the store's commit and that record) count once, by their ids.
/// </summary>
public sealed class EventInbox : IEventHandOff, IAsyncDisposable
{
    /// <summary>The folder in a data folder that holds it.</summary>
    public static string DirectoryIn(string dataDirectory) => Path.Combine(dataDirectory, "inbox");

    /// <summary>How many bytes one stored batch reads at most: large batches are what make storing cheap.</summary>
    private const int BatchBytes = 16 << 20;

    private readonly InboxJournal _journal;
    private readonly TallySchema _schema;
    private readonly ILogger _logger;
    private readonly long _maxWaitingBytes;
    private readonly Channel<Pending> _pending = Channel.CreateBounded<Pending>(new BoundedChannelOptions(4096) { SingleReader = true });
    private readonly Task _appendLoop;
    /// <summary>Completed, and replaced, whenever records become durable or stored.</summary>
    private TaskCompletionSource _progress = NewProgress();
    /// <summary>Completed when a reader waits for what was acknowledged, so that the consumer stores without lingering.</summary>
    private TaskCompletionSource _hurry = NewProgress();

    private EventInbox(InboxJournal journal, TallySchema schema, ILogger logger, long maxWaitingBytes)
    {
        _journal = journal;
        _schema = schema;
        _logger = logger;
        _maxWaitingBytes = maxWaitingBytes;
        _appendLoop = Task.Run(AppendLoopAsync);
    }

    /// <summary>Opens the inbox of a data folder, creating it when there is none.</summary>
    /// <param name="maxWaitingBytes">How much may wait to be stored before requests wait for the store (the disk the inbox may take).</param>
    /// <exception cref="InboxBusyException">Another process holds it.</exception>
    public static EventInbox Open(string dataDirectory, TallySchema schema, ILogger logger, long maxWaitingBytes = 256L << 20) =>
        new(InboxJournal.Open(DirectoryIn(dataDirectory)), schema, logger, maxWaitingBytes);

    public bool TakesProcessed => true;

    /// <summary>Bytes of records accepted but not yet stored.</summary>
    public long WaitingBytes => _journal.End - _journal.Consumed;

    /// <summary>Returns once the events are on disk in the inbox.</summary>
    /// <exception cref="HandOffRefusedException">The inbox cannot be written (a full or failing disk).</exception>
    public async Task HandOffAsync(IReadOnlyList<TallyEvent> events, CancellationToken cancellationToken)
    {
        if (events.Count == 0) return;
        var record = ProcessedEvents.Encode(events);
        // A store that falls behind holds requests back, rather than letting the inbox fill the disk.
        while (WaitingBytes > _maxWaitingBytes) await Volatile.Read(ref _progress).Task.WaitAsync(cancellationToken);
        var pending = new Pending(record);
        await _pending.Writer.WriteAsync(pending, cancellationToken);
        await pending.Done.Task.WaitAsync(cancellationToken);
    }

    private async Task AppendLoopAsync()
    {
        var group = new List<Pending>();
        var records = new List<ReadOnlyMemory<byte>>();
        while (await WriteGroups.NextAsync(_pending.Reader, group, pending => pending.Record.Length, BatchBytes))
        {
            records.Clear();
            foreach (var pending in group) records.Add(pending.Record);
            try
            {
                _journal.Append(records);
                foreach (var pending in group) pending.Done.TrySetResult();
                Progressed();
            }
            catch (Exception e)
            {
                var refused = new HandOffRefusedException($"the inbox cannot be written: {e.Message}", e);
                foreach (var pending in group) pending.Done.TrySetException(refused);
            }
        }
    }

    /// <summary>
    /// Stores the next batch of waiting records through <paramref name="store"/> and records that they are stored.
    /// Returns false when none waits.
    /// </summary>
    public async Task<bool> StoreNextAsync(Func<IReadOnlyList<TallyEvent>, CancellationToken, Task> store, CancellationToken cancellationToken)
    {
        var records = new List<byte[]>();
        var next = _journal.Read(_journal.Consumed, BatchBytes, records);
        if (records.Count == 0) return false;
        var events = new List<TallyEvent>();
        var problems = new List<string>();
        foreach (var record in records) events.AddRange(ProcessedEvents.Decode(record, _schema, problems));
        // Only a configuration changed since the events were acknowledged leaves something out.
        foreach (var problem in problems) _logger.LogWarning("Inbox: {Problem}", problem);
        await store(events, cancellationToken);
        _journal.Consume(next);
        Progressed();
        return true;
    }

    /// <summary>Stores every waiting record, batch by batch.</summary>
    public async Task StoreWaitingAsync(Func<IReadOnlyList<TallyEvent>, CancellationToken, Task> store, CancellationToken cancellationToken)
    {
        bool stored;
        do stored = await StoreNextAsync(store, cancellationToken);
        while (stored);
    }

    /// <summary>
    /// Stores into <paramref name="store"/> what a data folder's inbox still holds: events a server acknowledged and had
    /// not stored when it was killed. Nothing happens when the folder has no inbox, or when a running server holds it
    /// (it stores them itself).
    /// </summary>
    public static async Task StoreLeftOverAsync(string dataDirectory, TallySchema schema, IEventWriter store, ILogger logger, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(DirectoryIn(dataDirectory))) return;
        EventInbox inbox;
        try
        {
            inbox = Open(dataDirectory, schema, logger);
        }
        catch (InboxBusyException)
        {
            return;
        }
        await using (inbox) await inbox.StoreWaitingAsync(store.AppendAsync, cancellationToken);
    }

    /// <summary>
    /// Waits until records wait to be stored, and then, while they are few, up to <paramref name="linger"/> for more:
    /// storing a few events costs a columnar store nearly what storing thousands does. A reader waiting for what was
    /// acknowledged (<see cref="WaitUntilStoredAsync"/>) cuts the wait short.
    /// </summary>
    public async Task WaitForBatchAsync(TimeSpan linger, CancellationToken cancellationToken)
    {
        while (true)
        {
            var progress = Volatile.Read(ref _progress).Task;
            if (WaitingBytes > 0) break;
            await progress.WaitAsync(cancellationToken);
        }
        var hurry = Volatile.Read(ref _hurry).Task;
        if (WaitingBytes < BatchBytes / 4) await Task.WhenAny(hurry, Task.Delay(linger, cancellationToken));
        cancellationToken.ThrowIfCancellationRequested();
        if (hurry.IsCompleted) Interlocked.Exchange(ref _hurry, NewProgress());
    }

    /// <summary>Waits until every event acknowledged before the call is stored, so that what a reader reads includes them.</summary>
    public async Task WaitUntilStoredAsync(CancellationToken cancellationToken)
    {
        var acknowledged = _journal.End;
        while (true)
        {
            var progress = Volatile.Read(ref _progress).Task;
            if (_journal.Consumed >= acknowledged) return;
            Volatile.Read(ref _hurry).TrySetResult();
            await progress.WaitAsync(cancellationToken);
        }
    }

    private void Progressed() => Interlocked.Exchange(ref _progress, NewProgress()).TrySetResult();

    private static TaskCompletionSource NewProgress() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async ValueTask DisposeAsync()
    {
        _pending.Writer.TryComplete();
        await _appendLoop;
        _journal.Dispose();
    }

    private sealed record Pending(ReadOnlyMemory<byte> Record)
    {
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
