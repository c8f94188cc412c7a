using System.Buffers;
using System.Text;
using System.Text.Json;
using Tally.Core.Configuration;
using Tally.Core.Events;

namespace Tally.Core.Accept;

/// <summary>
/// Undeclared fields ride along as JSON. They are copied token by token rather than as raw bytes, so that
/// they follow the same rules as declared ones: every string and name readable and bounded, and, where
/// the type keeps no addresses, no IP address and no raw identity (ip, user_agent, ...) at any depth.
/// </summary>
public static class ExtraValues
{
    /// <summary>Copies the value under the reader to <paramref name="writer"/> as property <paramref name="name"/>; returns why it cannot be kept, or null.</summary>
    public static (string Path, string Problem)? Copy(ref Utf8JsonReader reader, Utf8JsonWriter writer, string name, bool dropIps, IngestOptions limits) =>
        Copy(ref reader, writer, name, dropIps, limits.MaxPropertyNameLength, limits.MaxValueLength, mend: false);

    /// <summary>
    /// Stored undeclared fields as an open endpoint may serve them. Rows written before the door checked
    /// them may hold strings that are not text, or addresses: those are mended to U+FFFD or dropped on the
    /// way out, so that such a row never breaks a page. Null when nothing is left to show.
    /// </summary>
    public static JsonElement? ForReading(string extra, bool dropIps)
    {
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(extra));
        var buffer = new ArrayBufferWriter<byte>();
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
            using (var writer = new Utf8JsonWriter(buffer))
            {
                writer.WriteStartObject();
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var name = StoredText.TryRead(ref reader, int.MaxValue, out var text, out _) ? text : Mended;
                    reader.Read();
                    if (dropIps && WellKnownFields.IsIdentity(name)) reader.Skip();
                    else Copy(ref reader, writer, name, dropIps, int.MaxValue, int.MaxValue, mend: true);
                }
                writer.WriteEndObject();
            }
            using var document = JsonDocument.Parse(buffer.WrittenMemory);
            return document.RootElement.EnumerateObject().Any() ? document.RootElement.Clone() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private const string Mended = "\uFFFD";

    private static (string Path, string Problem)? Copy(
        ref Utf8JsonReader reader, Utf8JsonWriter writer, string name, bool dropIps, int maxNameLength, int maxValueLength, bool mend)
    {
        var depth = reader.CurrentDepth;
        string? pending = name;
        while (true)
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.StartObject:
                    WritePending(writer, ref pending);
                    writer.WriteStartObject();
                    break;
                case JsonTokenType.StartArray:
                    WritePending(writer, ref pending);
                    writer.WriteStartArray();
                    break;
                case JsonTokenType.EndObject:
                    writer.WriteEndObject();
                    break;
                case JsonTokenType.EndArray:
                    writer.WriteEndArray();
                    break;
                case JsonTokenType.PropertyName:
                    if (!StoredText.TryRead(ref reader, maxNameLength, out var inner, out var nameProblem))
                    {
                        if (!mend) return (name, $"holds a property name that {nameProblem}");
                        inner = Mended;
                    }
                    if (dropIps && WellKnownFields.IsIdentity(inner))
                    {
                        reader.Read();
                        reader.Skip();
                    }
                    else pending = inner;
                    break;
                case JsonTokenType.String:
                    if (!StoredText.TryRead(ref reader, maxValueLength, out var text, out var problem))
                    {
                        if (!mend) return (name, problem);
                        text = Mended;
                    }
                    if (dropIps && StoredText.IsIpAddress(text)) pending = null;
                    else
                    {
                        WritePending(writer, ref pending);
                        writer.WriteStringValue(text);
                    }
                    break;
                default:
                    WritePending(writer, ref pending);
                    writer.WriteRawValue(reader.ValueSpan, skipInputValidation: true);
                    break;
            }
            if (reader.CurrentDepth <= depth && reader.TokenType is not (JsonTokenType.StartObject or JsonTokenType.StartArray or JsonTokenType.PropertyName)) return null;
            reader.Read();
        }
    }

    private static void WritePending(Utf8JsonWriter writer, ref string? pending)
    {
        if (pending is null) return;
        writer.WritePropertyName(pending);
        pending = null;
    }
}
