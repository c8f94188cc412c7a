using System.Threading.Channels;
using Tally.Core.Events;
using Tally.Core.Store;

namespace Tally.Core.Ingest;

/// <summary>
/// Funnels concurrent writers into few, large store transactions (group commit): each caller waits
/// until its own events are durably committed, but many callers share one commit.
/// </summary>
public sealed class GroupCommitWriter : IAsyncDisposable
{
    private readonly IEventWriter _store;
    private readonly int _maxBatch;
    private readonly Channel<PendingWrite> _pending;
    private readonly Task _loop;

    public GroupCommitWriter(IEventWriter store, int maxBatch = 20_000, int maxQueuedWrites = 4096)
    {
        _store = store;
        _maxBatch = maxBatch;
        // Bounded, so that a slow disk pushes back on callers instead of growing memory.
        _pending = Channel.CreateBounded<PendingWrite>(new BoundedChannelOptions(maxQueuedWrites) { SingleReader = true });
        _loop = Task.Run(CommitLoopAsync);
    }

    /// <summary>Returns once the events are committed: per event, true if stored, false if its id was already stored.</summary>
    public async Task<bool[]> WriteAsync(IReadOnlyList<TallyEvent> events, CancellationToken cancellationToken)
    {
        if (events.Count == 0) return [];
        var write = new PendingWrite(events);
        await _pending.Writer.WriteAsync(write, cancellationToken);
        return await write.Completion.Task;
    }

    private async Task CommitLoopAsync()
    {
        var group = new List<PendingWrite>();
        var events = new List<TallyEvent>();
        while (await WriteGroups.NextAsync(_pending.Reader, group, write => write.Events.Count, _maxBatch))
        {
            events.Clear();
            foreach (var write in group) events.AddRange(write.Events);
            try
            {
                var stored = await _store.AppendAsync(events, CancellationToken.None);
                var offset = 0;
                foreach (var write in group)
                {
                    write.Completion.TrySetResult(stored.AsSpan(offset, write.Events.Count).ToArray());
                    offset += write.Events.Count;
                }
            }
            catch (Exception e)
            {
                foreach (var write in group) write.Completion.TrySetException(e);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _pending.Writer.TryComplete();
        await _loop;
    }

    private sealed record PendingWrite(IReadOnlyList<TallyEvent> Events)
    {
        public TaskCompletionSource<bool[]> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
