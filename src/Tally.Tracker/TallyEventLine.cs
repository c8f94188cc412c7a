using System.Globalization;
using System.Text.Json;

namespace Tally.Tracker;

/// <summary>
/// A tracker event as Tally's ingest API, NDJSON import and queue take it: one flat object with the
/// event's name as its <c>type</c>, its <c>id</c> (so a resend is stored once) and <c>timestamp</c>,
/// then the context's fields and the data's, the data winning where both name a field. Fields Tally's
/// schema does not declare are kept by Tally as the event's extra JSON.
/// </summary>
public static class TallyEventLine
{
    public static void Write(Utf8JsonWriter writer, TrackerEvent trackerEvent)
    {
        writer.WriteStartObject();
        writer.WriteString("type"u8, trackerEvent.Name);
        writer.WriteString("id"u8, trackerEvent.Id);
        writer.WriteString("timestamp"u8, trackerEvent.Timestamp.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture));
        foreach (var (key, value) in trackerEvent.Context)
        {
            if (!trackerEvent.Data.ContainsKey(key)) WriteField(writer, key, value);
        }
        foreach (var (key, value) in trackerEvent.Data) WriteField(writer, key, value);
        writer.WriteEndObject();
    }

    private static void WriteField(Utf8JsonWriter writer, string key, object? value)
    {
        // The envelope's own fields are the event's; a context or data key of the same name cannot replace them.
        if (key is "type" or "id" or "timestamp") return;
        writer.WritePropertyName(key);
        JsonSerializer.Serialize(writer, value);
    }

    /// <summary>A field of the event as Tally will see it: the data's value, else the context's.</summary>
    public static object? Field(TrackerEvent trackerEvent, string key) =>
        trackerEvent.Data.TryGetValue(key, out var value) ? value : trackerEvent.Context.GetValueOrDefault(key);
}
