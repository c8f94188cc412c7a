namespace Tally.Cli;

/// <summary>Reports on the caller's thread, so a progress bar never lags behind or outlives the work.</summary>
internal sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
