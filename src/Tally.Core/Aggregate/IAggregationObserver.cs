namespace Tally.Core.Aggregate;

/// <summary>Hears when an aggregation run begins and ends, such as a live view that must read the metrics again.</summary>
public interface IAggregationObserver
{
    void AggregationStarting();

    /// <param name="result">The run's result, or null when it failed (the metrics did not change).</param>
    void AggregationEnded(AggregationResult? result);
}
