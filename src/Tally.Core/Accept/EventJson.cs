using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Tally.Core.Events;

namespace Tally.Core.Accept;

/// <summary>
/// Writes an accepted event back as the JSON <see cref="EventParser"/> reads: id, type, timestamp,
/// the type's fields and the extra members. Ingest nodes hand events to workers this way, so a
/// worker parses exactly what the ingest node accepted, with the id it was given.
/// </summary>
public static class EventJson
{
    /// <summary>The events as NDJSON, one line each.</summary>
    public static void WriteLines(IBufferWriter<byte> output, IEnumerable<TallyEvent> events)
    {
        using var writer = new Utf8JsonWriter(output);
        foreach (var e in events)
        {
            Write(writer, e);
            writer.Flush();
            // Each line is its own top-level value, which the writer allows only after a reset.
            writer.Reset();
            output.Write("\n"u8);
        }
    }

    public static void Write(Utf8JsonWriter writer, TallyEvent e)
    {
        writer.WriteStartObject();
        writer.WriteString("id"u8, e.Id);
        writer.WriteString("type"u8, e.Type.Name);
        writer.WriteString("timestamp"u8, e.Timestamp.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
        foreach (var field in e.Type.Fields)
        {
            switch (e.Values[field.Ordinal])
            {
                case string text: writer.WriteString(field.Name, text); break;
                case long integer: writer.WriteNumber(field.Name, integer); break;
                case double number: writer.WriteNumber(field.Name, number); break;
                case bool flag: writer.WriteBoolean(field.Name, flag); break;
            }
        }
        if (e.Extra is not null)
        {
            using var extra = JsonDocument.Parse(e.Extra);
            foreach (var member in extra.RootElement.EnumerateObject()) member.WriteTo(writer);
        }
        writer.WriteEndObject();
    }
}
