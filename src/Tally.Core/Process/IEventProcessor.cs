using Tally.Core.Events;

namespace Tally.Core.Process;

/// <summary>One step of an event type's pipeline. It may change the event, or drop it by returning false.</summary>
public interface IEventProcessor
{
    /// <summary>Called once per batch before <see cref="Process"/>, for work that needs I/O (such as loading salts).</summary>
    ValueTask PrepareAsync(IReadOnlyList<TallyEvent> batch, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    bool Process(TallyEvent e);
}
