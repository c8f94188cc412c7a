using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tally.Server.Tests.Logs;

/// <summary>Reading usage back out of a server: COUNTER metrics from SUSHI, and raw event counts.</summary>
public static class Usage
{
    /// <summary>A configuration with Tally's built-in event types (those PKP logs map to), COUNTER open to harvesting.</summary>
    public static void BuiltInTypes(JsonObject config)
    {
        config.Remove("eventTypes");
        config.Remove("aggregations");
        config.Remove("queries");
    }

    /// <summary>The whole world's COUNTER metrics of a report over the months from <paramref name="from"/> to <paramref name="to"/>, summed per metric.</summary>
    public static async Task<Dictionary<string, long>> MetricsAsync(TallyHost host, string report, DateTime from, DateTime to)
    {
        var json = await host.GetJsonAsync(string.Create(CultureInfo.InvariantCulture,
            $"/r51/reports/{report}?customer_id=0000000000000000&begin_date={from:yyyy-MM}&end_date={to:yyyy-MM}"));
        var totals = new Dictionary<string, long>();
        Sum(json.GetProperty("Report_Items"), totals);
        return totals;
    }

    private static void Sum(JsonElement element, Dictionary<string, long> totals)
    {
        if (element.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in element.EnumerateArray()) Sum(item, totals);
            return;
        }
        if (element.ValueKind != JsonValueKind.Object) return;
        foreach (var property in element.EnumerateObject())
        {
            if (property.Name == "Performance")
            {
                foreach (var metric in property.Value.EnumerateObject())
                    totals[metric.Name] = totals.GetValueOrDefault(metric.Name) + metric.Value.EnumerateObject().Sum(month => month.Value.GetInt64());
            }
            else Sum(property.Value, totals);
        }
    }

    public static async Task<long> EventCountAsync(TallyHost host, string filter)
    {
        var json = await host.GetJsonAsync($"/api/v1/events?start=2000-01-01T00:00:00Z&end=2100-01-01T00:00:00Z&rows_per_page=1&{filter}");
        return json.GetProperty("total").GetInt64();
    }
}
