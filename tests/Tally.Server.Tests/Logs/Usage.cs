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

    /// <summary>Events stored from 2000 until tomorrow, counted a year at a time (the raw API's widest window).</summary>
    public static async Task<long> EventCountAsync(TallyHost host, string filter)
    {
        var total = 0L;
        var end = DateTime.UtcNow.Date.AddDays(1);
        for (var start = new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc); start < end; start = start.AddDays(365))
        {
            var until = start.AddDays(365) < end ? start.AddDays(365) : end;
            var json = await host.GetJsonAsync($"/api/v1/events?start={start:yyyy-MM-ddTHH:mm:ssZ}&end={until:yyyy-MM-ddTHH:mm:ssZ}&rows_per_page=1&{filter}");
            total += json.GetProperty("total").GetInt64();
        }
        return total;
    }
}
