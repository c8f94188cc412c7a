namespace Tally.Tracker;

/// <summary>
/// Lets a flush wait until outstanding work is seen at zero. The worker calls <see cref="Drained"/>
/// each time it finds nothing left; a waiter re-checks after every signal, so a signal given just
/// before new work arrived cannot end a flush early.
/// </summary>
internal sealed class DrainSignal
{
    private TaskCompletionSource _next = New();

    public void Drained() => Interlocked.Exchange(ref _next, New()).TrySetResult();

    /// <param name="isDrained">Whether nothing is outstanding now.</param>
    /// <param name="nudge">Wakes the worker, if it sleeps between rounds.</param>
    public async Task WaitAsync(Func<bool> isDrained, Action? nudge, CancellationToken cancellationToken)
    {
        while (true)
        {
            var signal = Volatile.Read(ref _next);
            if (isDrained()) return;
            nudge?.Invoke();
            await signal.Task.WaitAsync(cancellationToken);
        }
    }

    private static TaskCompletionSource New() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
