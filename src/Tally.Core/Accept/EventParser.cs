using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Tally.Core.Configuration;
using Tally.Core.Events;

namespace Tally.Core.Accept;

/// <summary>One event of a request that could not be accepted.</summary>
public sealed record Rejection(int Index, string Field, string Reason);

/// <summary>
/// Where an event came from when not from a request: its id and time when it carries none, and the
/// type its route decides. A log line has no "now" to fall back on, so its time may be required.
/// </summary>
public sealed record EventOrigin(string FallbackId, DateTime? FallbackTimestamp = null, EventType? Type = null, bool RequireTimestamp = false);

/// <summary>The body as a whole cannot be read; nothing in it is accepted.</summary>
public sealed class MalformedBodyException(string message) : Exception(message);

public sealed class ParsedBatch
{
    public List<TallyEvent> Events { get; } = [];
    /// <summary>For each accepted event, its position in the request.</summary>
    public List<int> Indexes { get; } = [];
    public List<Rejection> Rejections { get; } = [];
    public int Total => Events.Count + Rejections.Count;
}

/// <summary>
/// Turns a request body into events: one JSON object, a JSON array of objects, or NDJSON
/// (objects one after another). Works on the raw UTF-8 with <see cref="Utf8JsonReader"/>.
/// Each event is validated against its type; bad events are rejected one by one.
/// </summary>
public sealed class EventParser(TallySchema schema, TimeProvider clock)
{
    private readonly Dictionary<string, EventType>.AlternateLookup<ReadOnlySpan<char>> _types =
        schema.EventTypes.ToDictionary(StringComparer.Ordinal).GetAlternateLookup<ReadOnlySpan<char>>();

    public const int MaxIdLength = 128;
    private const string NulProblem = "must not contain the NUL character (\\u0000)";

    public ParsedBatch Parse(ReadOnlySpan<byte> body)
    {
        var batch = new ParsedBatch();
        var now = clock.GetUtcNow().UtcDateTime;
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { AllowMultipleValues = true, CommentHandling = JsonCommentHandling.Skip });
        try
        {
            if (!reader.Read()) throw new MalformedBodyException("The body is empty; send one event, a JSON array of events, or NDJSON.");
            if (reader.TokenType == JsonTokenType.StartArray)
            {
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    ReadOne(ref reader, body, batch, now);
                if (reader.Read()) throw new MalformedBodyException("Unexpected content after the JSON array.");
            }
            else
            {
                do ReadOne(ref reader, body, batch, now);
                while (reader.Read());
            }
        }
        catch (JsonException e)
        {
            throw new MalformedBodyException($"Malformed JSON at line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}: {e.Message}");
        }
        catch (InvalidOperationException e) when (e.InnerException is DecoderFallbackException)
        {
            throw new MalformedBodyException("The body is not valid UTF-8.");
        }
        catch (InvalidOperationException e) when (e.TargetSite?.DeclaringType?.Assembly == typeof(Utf8JsonReader).Assembly)
        {
            // Utf8JsonReader.GetString refuses escapes that are not text, such as a lone surrogate ("\ud800").
            throw new MalformedBodyException($"The body holds a string that is not valid Unicode: {e.Message}");
        }
        return batch;
    }

    private void ReadOne(ref Utf8JsonReader reader, ReadOnlySpan<byte> body, ParsedBatch batch, DateTime now)
    {
        var index = batch.Total;
        if (index >= schema.Options.Ingest.MaxEventsPerRequest)
            throw new TooManyEventsException(schema.Options.Ingest.MaxEventsPerRequest);
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            batch.Rejections.Add(new Rejection(index, "$", "an event must be a JSON object"));
            return;
        }
        // One pass reads the envelope (the type decides how fields are read) and moves the reader past
        // the object; a copy of the reader, taken at its start, then reads the fields.
        var atStart = reader;
        var rejection = ParseObject(ref reader, atStart, body, index, now, null, out var parsed);
        if (rejection is not null) batch.Rejections.Add(rejection);
        else
        {
            batch.Events.Add(parsed!);
            batch.Indexes.Add(index);
        }
    }

    /// <summary>
    /// Parses one JSON event that arrived by another route (a log line, a bus message), with the
    /// origin's id, time and type where the event gives none. Returns why it was rejected, or null.
    /// </summary>
    public Rejection? ParseOne(ReadOnlySpan<byte> json, EventOrigin origin, out TallyEvent? parsed)
    {
        parsed = null;
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return new Rejection(0, "$", "an event must be a JSON object");
            var atStart = reader;
            var rejection = ParseObject(ref reader, atStart, json, 0, clock.GetUtcNow().UtcDateTime, origin, out parsed);
            if (rejection is null && reader.Read()) return new Rejection(0, "$", "unexpected content after the event");
            return rejection;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            parsed = null;
            return new Rejection(0, "$", $"not valid JSON: {e.Message}");
        }
    }

    /// <summary>Reads the envelope first (the type decides how fields are read), then the fields.</summary>
    private Rejection? ParseObject(ref Utf8JsonReader reader, Utf8JsonReader atStart, ReadOnlySpan<byte> body, int index, DateTime now, EventOrigin? origin, out TallyEvent? parsed)
    {
        parsed = null;
        string? typeName = null, id = null;
        DateTime? timestamp = null;
        Rejection? envelopeProblem = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (envelopeProblem is not null)
            {
                reader.Read();
                reader.Skip();
                continue;
            }
            if (reader.ValueTextEquals("type"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.String)
                {
                    envelopeProblem = new Rejection(index, "type", "must be a string");
                    reader.Skip();
                }
                else typeName = reader.GetString();
            }
            else if (reader.ValueTextEquals("id"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.String)
                {
                    envelopeProblem = new Rejection(index, "id", "must be a string");
                    reader.Skip();
                }
                else
                {
                    id = reader.GetString();
                    if (string.IsNullOrWhiteSpace(id) || id.Length > MaxIdLength)
                        envelopeProblem = new Rejection(index, "id", $"must be 1 to {MaxIdLength} characters");
                    else if (id.Contains('\0', StringComparison.Ordinal))
                        envelopeProblem = new Rejection(index, "id", NulProblem);
                }
            }
            else if (reader.ValueTextEquals("timestamp"u8))
            {
                reader.Read();
                // A date alone is valid ISO-8601 but says nothing about the hour that sessions and days depend on.
                if (reader.TokenType != JsonTokenType.String || !reader.ValueSpan.Contains((byte)'T') || !reader.TryGetDateTime(out var ts))
                {
                    envelopeProblem = new Rejection(index, "timestamp", "must be an ISO-8601 date-time string, e.g. 2026-11-22T10:15:00Z");
                    reader.Skip();
                }
                else timestamp = ts.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(ts, DateTimeKind.Utc) : ts.ToUniversalTime();
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        if (envelopeProblem is not null) return envelopeProblem;
        var type = origin?.Type;
        if (type is null)
        {
            if (typeName is null) return new Rejection(index, "type", "is required");
            if (!_types.TryGetValue(typeName, out type)) return new Rejection(index, "type", $"'{typeName}' is not a known event type");
        }
        if (!type.Enabled) return new Rejection(index, "type", $"event type '{type.Name}' is disabled");

        if (timestamp is null && origin is { RequireTimestamp: true }) return new Rejection(index, "timestamp", "is required");
        var when = TruncateToMilliseconds(timestamp ?? origin?.FallbackTimestamp ?? now);
        if (TimestampProblem(type, when, now) is { } problem) return new Rejection(index, "timestamp", problem);

        var values = new object?[type.Fields.Count];
        var rejection = ReadFields(ref atStart, body, type, index, values, out var extra);
        if (rejection is not null) return rejection;
        if (MissingRequired(type, values) is { } missing) return new Rejection(index, missing.Name, "is required");
        parsed = new TallyEvent(type, id ?? origin?.FallbackId ?? Guid.CreateVersion7(now).ToString("N"), when, values, extra);
        return null;
    }

    /// <summary>Why an event of <paramref name="type"/> at <paramref name="when"/> cannot be accepted, or null: every route applies the same rule.</summary>
    public string? TimestampProblem(EventType type, DateTime when, DateTime now)
    {
        if (when > now.AddSeconds(schema.Options.Ingest.MaxFutureSkewSeconds)) return "lies in the future";
        if (type.RetentionDays is { } days && when < now.AddDays(-days)) return $"is older than the {days}-day retention of '{type.Name}'";
        return null;
    }

    /// <summary>Stores a string value in a field, or says why it does not fit: the field's type and allowed values are checked as for JSON.</summary>
    public static string? SetText(object?[] values, FieldDefinition field, string text)
    {
        switch (field.Type)
        {
            case FieldType.String:
                if (text.Contains('\0', StringComparison.Ordinal)) return NulProblem;
                if (field.AllowedValues is { } allowed)
                {
                    if (!allowed.TryGetValue(text, out var canonical)) return $"'{text}' is not one of {string.Join(", ", allowed.Order(StringComparer.Ordinal))}";
                    text = canonical;
                }
                values[field.Ordinal] = text;
                return null;
            case FieldType.Integer when long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l):
                values[field.Ordinal] = l;
                return null;
            case FieldType.Number when double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d):
                values[field.Ordinal] = d;
                return null;
            case FieldType.Boolean when bool.TryParse(text, out var b):
                values[field.Ordinal] = b;
                return null;
            default:
                return $"must be {Article(field.Type)}, not '{text}'";
        }
    }

    /// <summary>The first declared field that is required but missing, or null.</summary>
    public static FieldDefinition? MissingRequired(EventType type, object?[] values)
    {
        foreach (var field in type.Fields)
        {
            if (field.Required && values[field.Ordinal] is null) return field;
        }
        return null;
    }

    private static Rejection? ReadFields(ref Utf8JsonReader reader, ReadOnlySpan<byte> body, EventType type, int index, object?[] values, out string? extra)
    {
        extra = null;
        ArrayBufferWriter<byte>? extraBuffer = null;
        Utf8JsonWriter? extraWriter = null;
        Span<char> nameBuffer = stackalloc char[128];
        try
        {
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("type"u8) || reader.ValueTextEquals("id"u8) || reader.ValueTextEquals("timestamp"u8))
                {
                    reader.Read();
                    reader.Skip();
                    continue;
                }
                var nameLength = reader.HasValueSequence || reader.ValueIsEscaped || reader.ValueSpan.Length > nameBuffer.Length
                    ? -1
                    : Encoding.UTF8.GetChars(reader.ValueSpan, nameBuffer);
                var name = nameLength >= 0 ? nameBuffer[..nameLength] : reader.GetString().AsSpan();
                if (type.FieldLookup.TryGetValue(name, out var field))
                {
                    reader.Read();
                    if (!TryReadValue(ref reader, field, out var value))
                        return new Rejection(index, field.Name, $"must be {Article(field.Type)}");
                    // No store can keep a NUL in text (PostgreSQL refuses it), so it is refused at the door.
                    if (value is string withNul && withNul.Contains('\0', StringComparison.Ordinal))
                        return new Rejection(index, field.Name, NulProblem);
                    // SetText checks allowed values and stores the set's own instance, so a million events share one string per value.
                    if (value is string text && field.AllowedValues is not null)
                    {
                        if (SetText(values, field, text) is { } problem) return new Rejection(index, field.Name, problem);
                    }
                    else values[field.Ordinal] = value;
                }
                else
                {
                    extraBuffer ??= new ArrayBufferWriter<byte>();
                    if (extraWriter is null)
                    {
                        extraWriter = new Utf8JsonWriter(extraBuffer);
                        extraWriter.WriteStartObject();
                    }
                    extraWriter.WritePropertyName(name);
                    reader.Read();
                    var valueStart = (int)reader.TokenStartIndex;
                    reader.Skip();
                    extraWriter.WriteRawValue(body[valueStart..(int)reader.BytesConsumed], skipInputValidation: true);
                }
            }
            if (extraWriter is not null)
            {
                extraWriter.WriteEndObject();
                extraWriter.Flush();
                extra = Encoding.UTF8.GetString(extraBuffer!.WrittenSpan);
            }
        }
        finally
        {
            extraWriter?.Dispose();
        }
        return null;
    }

    private static bool TryReadValue(ref Utf8JsonReader reader, FieldDefinition field, out object? value)
    {
        value = null;
        if (reader.TokenType == JsonTokenType.Null) return true;
        switch (field.Type)
        {
            case FieldType.String when reader.TokenType == JsonTokenType.String:
                value = reader.GetString();
                return true;
            case FieldType.Integer when reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var l):
                value = l;
                return true;
            case FieldType.Number when reader.TokenType == JsonTokenType.Number && reader.TryGetDouble(out var d) && double.IsFinite(d):
                value = d;
                return true;
            case FieldType.Boolean when reader.TokenType is JsonTokenType.True or JsonTokenType.False:
                value = reader.GetBoolean();
                return true;
            default:
                reader.Skip();
                return false;
        }
    }

    private static string Article(FieldType type) => type switch
    {
        FieldType.String => "a string",
        FieldType.Integer => "an integer",
        FieldType.Number => "a number",
        _ => "a boolean",
    };

    private static DateTime TruncateToMilliseconds(DateTime value) =>
        new(value.Ticks - value.Ticks % TimeSpan.TicksPerMillisecond, DateTimeKind.Utc);
}

public sealed class TooManyEventsException(int limit) : Exception($"A request may hold at most {limit} events.")
{
    public int Limit { get; } = limit;
}
