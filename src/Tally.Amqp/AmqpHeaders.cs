using System.Buffers;
using System.Collections;
using System.Text;
using System.Text.Json;
using RabbitMQ.Client;

namespace Tally.Amqp;

/// <summary>AMQP header tables as JSON: what a stored message shows of the headers it arrived with.</summary>
public static class AmqpHeaders
{
    /// <summary>Set by RabbitMQ.Client itself to track publisher confirms; not the publisher's own header.</summary>
    private const string ClientSequenceHeader = "x-dotnet-pub-seq-no";

    /// <summary>The table as a JSON object, or null when there are no headers.</summary>
    public static string? ToJson(IDictionary<string, object?>? headers)
    {
        if (headers is null || headers.Keys.All(name => name == ClientSequenceHeader)) return null;
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteTable(writer, headers);
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void WriteTable(Utf8JsonWriter writer, IDictionary<string, object?> table)
    {
        writer.WriteStartObject();
        foreach (var (name, value) in table.OrderBy(h => h.Key, StringComparer.Ordinal))
        {
            if (name == ClientSequenceHeader) continue;
            writer.WritePropertyName(name);
            WriteValue(writer, value);
        }
        writer.WriteEndObject();
    }

    private static void WriteValue(Utf8JsonWriter writer, object? value)
    {
        switch (value)
        {
            case null: writer.WriteNullValue(); break;
            // AMQP long strings arrive as bytes; most are UTF-8 text.
            case byte[] bytes when System.Text.Unicode.Utf8.IsValid(bytes): writer.WriteStringValue(bytes); break;
            case byte[] bytes:
                writer.WriteStartObject();
                writer.WriteBase64String("base64", bytes);
                writer.WriteEndObject();
                break;
            case string text: writer.WriteStringValue(text); break;
            case bool flag: writer.WriteBooleanValue(flag); break;
            case AmqpTimestamp timestamp: writer.WriteStringValue(DateTimeOffset.FromUnixTimeSeconds(timestamp.UnixTime).UtcDateTime); break;
            case IDictionary<string, object?> table: WriteTable(writer, table); break;
            case IEnumerable list:
                writer.WriteStartArray();
                foreach (var item in list) WriteValue(writer, item);
                writer.WriteEndArray();
                break;
            case decimal number: writer.WriteNumberValue(number); break;
            case double number: writer.WriteNumberValue(number); break;
            case float number: writer.WriteNumberValue(number); break;
            case IConvertible number when number.GetTypeCode() is >= TypeCode.SByte and <= TypeCode.UInt64:
                writer.WriteNumberValue(Convert.ToDecimal(number, System.Globalization.CultureInfo.InvariantCulture));
                break;
            default: writer.WriteStringValue(value.ToString()); break;
        }
    }
}
