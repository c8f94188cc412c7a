using System.Text.Json;

namespace Tally.Tracker;

/// <summary>The envelope as JSON: <c>{"name", "timestamp", "context", "data"}</c>, values written as System.Text.Json writes them.</summary>
public static class TrackerEventJson
{
    public static void Write(Utf8JsonWriter writer, TrackerEvent trackerEvent)
    {
        writer.WriteStartObject();
        writer.WriteString("name"u8, trackerEvent.Name);
        writer.WriteString("timestamp"u8, trackerEvent.Timestamp);
        writer.WritePropertyName("context"u8);
        JsonSerializer.Serialize(writer, trackerEvent.Context);
        writer.WritePropertyName("data"u8);
        JsonSerializer.Serialize(writer, trackerEvent.Data);
        writer.WriteEndObject();
    }

    public static string ToJson(TrackerEvent trackerEvent)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer)) Write(writer, trackerEvent);
        return System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }
}
