using Tally.Core.Configuration;
using static Tally.Storage.Tests.StoreTestKit;

namespace Tally.Storage.Tests;

/// <summary>
/// Stores name tables after types and aggregations with '-' turned into '_', and rely on the
/// configuration never holding two names that differ only there. Before this was checked,
/// "record-view" and "record_view" shared SQLite tables, and one type's events were written into
/// the other's partitions with the other's column mapping.
/// </summary>
public sealed class StorageNameTests
{
    [Fact]
    public void Two_event_types_differing_only_in_dash_and_underscore_are_refused()
    {
        var error = Assert.Throws<ConfigurationException>(() => Schema(change: o =>
            o.EventTypes.Add(new EventTypeOptions { Name = "record_view", Fields = new() { ["item_id"] = new() } })));
        Assert.Equal($"eventTypes[{DefaultConfiguration.Create().EventTypes.Count + 1}].name", error.Setting);
        Assert.Contains("'record-view'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Two_aggregations_differing_only_in_dash_and_underscore_are_refused()
    {
        var error = Assert.Throws<ConfigurationException>(() => Schema(change: o =>
            o.Aggregations.Add(new AggregationOptions { Name = "record_view-agg", EventType = "probe" })));
        Assert.Equal($"aggregations[{DefaultConfiguration.Create().Aggregations.Count}].name", error.Setting);
        Assert.Contains("'record-view-agg'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Names_that_differ_otherwise_are_accepted()
    {
        var schema = Schema(change: o =>
        {
            o.EventTypes.Add(new EventTypeOptions { Name = "record_views", Fields = new() { ["item_id"] = new() } });
            o.Aggregations.Add(new AggregationOptions { Name = "record_view-agg2", EventType = "record_views" });
        });
        Assert.Contains("record_views", schema.EventTypes.Keys);
        Assert.Contains("record_view-agg2", schema.Aggregations.Keys);
    }
}
