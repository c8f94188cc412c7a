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
    /// <summary>The storage periods the accepted events fall in.</summary>
    internal HashSet<(EventType Type, DateTime Period)> Partitions { get; } = [];
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

    private readonly IngestOptions _limits = schema.Options.Ingest;

    public const int MaxIdLength = 128;

    /// <summary>Undeclared values are written back as they read, not with every non-ASCII letter escaped.</summary>
    private static readonly JsonWriterOptions ExtraWriterOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public ParsedBatch Parse(ReadOnlySpan<byte> body)
    {
        // Checked once for the whole body, so every string below decodes without surprises.
        if (StoredText.InvalidUtf8At(body) is >= 0 and var at) throw new MalformedBodyException($"The body is not valid UTF-8 (at byte {at + 1}).");
        var batch = new ParsedBatch();
        var now = clock.GetUtcNow().UtcDateTime;
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { AllowMultipleValues = true, CommentHandling = JsonCommentHandling.Skip });
        try
        {
            if (!reader.Read()) throw new MalformedBodyException("The body is empty; send one event, a JSON array of events, or NDJSON.");
            if (reader.TokenType == JsonTokenType.StartArray)
            {
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    ReadOne(ref reader, batch, now);
                if (reader.Read()) throw new MalformedBodyException("Unexpected content after the JSON array.");
            }
            else
            {
                do ReadOne(ref reader, batch, now);
                while (reader.Read());
            }
        }
        catch (JsonException e)
        {
            throw new MalformedBodyException(MalformedJson(e));
        }
        return batch;
    }

    /// <summary>Where the JSON broke, in the user's terms rather than the reader's.</summary>
    public static string MalformedJson(JsonException e) =>
        $"Malformed JSON at line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}: the text there is cut short, out of place, or nested more than 64 levels deep. " +
        "Send one event object, a JSON array of them, or one object per line (NDJSON).";

    private void ReadOne(ref Utf8JsonReader reader, ParsedBatch batch, DateTime now)
    {
        var index = batch.Total;
        if (index >= _limits.MaxEventsPerRequest)
            throw new TooManyEventsException(_limits.MaxEventsPerRequest);
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            batch.Rejections.Add(new Rejection(index, "$", "an event must be a JSON object"));
            return;
        }
        // One pass reads the envelope (the type decides how fields are read) and moves the reader past
        // the object; a copy of the reader, taken at its start, then reads the fields.
        var atStart = reader;
        var rejection = ParseObject(ref reader, atStart, index, now, null, out var parsed);
        if (rejection is null) rejection = ClaimPartition(batch, parsed!, index);
        if (rejection is not null) batch.Rejections.Add(rejection);
        else
        {
            batch.Events.Add(parsed!);
            batch.Indexes.Add(index);
        }
    }

    /// <summary>One request may write to a bounded number of partitions, so it cannot scatter events over centuries.</summary>
    private Rejection? ClaimPartition(ParsedBatch batch, TallyEvent e, int index)
    {
        var partition = (e.Type, e.Type.Partition.PeriodStart(e.Timestamp));
        if (batch.Partitions.Count < _limits.MaxPartitionsPerRequest || batch.Partitions.Contains(partition))
        {
            batch.Partitions.Add(partition);
            return null;
        }
        return new Rejection(index, "timestamp", $"would be the request's {_limits.MaxPartitionsPerRequest + 1}th storage period; " +
            $"at most {_limits.MaxPartitionsPerRequest} may be written at once (ingest.maxPartitionsPerRequest), so send it in another request");
    }

    /// <summary>
    /// Parses one JSON event that arrived by another route (a log line, a bus message), with the
    /// origin's id, time and type where the event gives none. Returns why it was rejected, or null.
    /// </summary>
    public Rejection? ParseOne(ReadOnlySpan<byte> json, EventOrigin origin, out TallyEvent? parsed)
    {
        parsed = null;
        if (StoredText.InvalidUtf8At(json) is >= 0 and var at) return new Rejection(0, "$", $"is not valid UTF-8 (at byte {at + 1})");
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return new Rejection(0, "$", "an event must be a JSON object");
            var atStart = reader;
            var rejection = ParseObject(ref reader, atStart, 0, clock.GetUtcNow().UtcDateTime, origin, out parsed);
            if (rejection is null && reader.Read()) return new Rejection(0, "$", "unexpected content after the event");
            return rejection;
        }
        catch (JsonException e)
        {
            parsed = null;
            return new Rejection(0, "$", $"not valid JSON at byte {e.BytePositionInLine + 1}: the text there is cut short, out of place, or nested too deeply");
        }
    }

    /// <summary>
    /// Reads the envelope and the fields. The type decides how fields are read, so fields are read in the same pass
    /// once the type is known (from the origin, or a "type" that comes first, as senders write it); fields seen before
    /// the type are read again from <paramref name="atStart"/> once the whole envelope is known.
    /// </summary>
    private Rejection? ParseObject(ref Utf8JsonReader reader, Utf8JsonReader atStart, int index, DateTime now, EventOrigin? origin, out TallyEvent? parsed)
    {
        parsed = null;
        string? typeName = null, id = null;
        DateTime? timestamp = null;
        Rejection? envelopeProblem = null;
        var fields = origin?.Type is { } given ? NewFields(given, index) : null;
        var fieldsBeforeType = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            // An escaped name is decoded before it is compared: an escape that is not text would throw there.
            if (envelopeProblem is null && reader.ValueIsEscaped && !StoredText.TryRead(ref reader, _limits.MaxPropertyNameLength, out _, out var nameProblem))
                envelopeProblem = new Rejection(index, PropertyShown(ref reader), $"is not a usable property name: it {nameProblem}");
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
                else
                {
                    if (StoredText.TryRead(ref reader, _limits.MaxValueLength, out var text, out var typeProblem)) typeName = text;
                    else envelopeProblem = new Rejection(index, "type", typeProblem);
                    if (fields is null && !fieldsBeforeType && typeName is not null && _types.TryGetValue(typeName, out var named)) fields = NewFields(named, index);
                }
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
                    if (!StoredText.TryRead(ref reader, MaxIdLength, out id, out var idProblem) || string.IsNullOrWhiteSpace(id))
                        envelopeProblem = new Rejection(index, "id", $"must be 1 to {MaxIdLength} characters of text, without NUL" + (idProblem is null ? "" : $": it {idProblem}"));
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
            else if (fields is null)
            {
                fieldsBeforeType = true;
                reader.Read();
                reader.Skip();
            }
            else ReadField(ref reader, fields);
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

        // A second "type" may name another type than the first did; the last one counts, as in any JSON object.
        if (fields is null || fieldsBeforeType || fields.Type != type)
        {
            fields?.Dispose();
            fields = NewFields(type, index);
            while (atStart.Read() && atStart.TokenType == JsonTokenType.PropertyName) ReadField(ref atStart, fields);
        }
        using var read = fields;
        var extra = fields.Finish();
        if (fields.Problem is not null) return fields.Problem;
        if (MissingRequired(type, fields.Values) is { } missing) return new Rejection(index, missing.Name, "is required");
        parsed = new TallyEvent(type, id ?? origin?.FallbackId ?? Guid.CreateVersion7(now).ToString("N"), when, fields.Values, extra);
        return null;
    }

    /// <summary>Why an event of <paramref name="type"/> at <paramref name="when"/> cannot be accepted, or null: every route applies the same rule.</summary>
    public string? TimestampProblem(EventType type, DateTime when, DateTime now)
    {
        if (when > now.AddSeconds(_limits.MaxFutureSkewSeconds)) return "lies in the future";
        if (DateOnly.FromDateTime(when) < _limits.EarliestDate) return $"lies before {_limits.EarliestDate:yyyy-MM-dd}, the earliest date accepted (ingest.earliestDate)";
        if (type.RetentionDays is { } days && when < now.AddDays(-days)) return $"is older than the {days}-day retention of '{type.Name}'";
        return null;
    }

    /// <summary>Stores a string value in a field, or says why it does not fit: the field's type and allowed values are checked as for JSON.</summary>
    public string? SetText(object?[] values, FieldDefinition field, string text)
    {
        switch (field.Type)
        {
            case FieldType.String:
                if ((StoredText.Problem(text, _limits.MaxValueLength) ?? AllowedValueProblem(field, ref text)) is { } problem) return problem;
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

    /// <summary>
    /// Why a field with a closed set of values cannot take <paramref name="text"/>, or null; the set's own
    /// instance replaces it, so a million events share one string per value.
    /// </summary>
    private static string? AllowedValueProblem(FieldDefinition field, ref string text)
    {
        if (field.AllowedValues is not { } allowed) return null;
        if (!allowed.TryGetValue(text, out var canonical)) return $"'{StoredText.Echo(text)}' is not one of {string.Join(", ", allowed.Order(StringComparer.Ordinal))}";
        text = canonical;
        return null;
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

    private Fields NewFields(EventType type, int index) => new(type, index, dropIps: !schema.KeepsIpAddresses(type));

    /// <summary>An event's declared values and undeclared fields as they are read, and the first problem with them.</summary>
    private sealed class Fields(EventType type, int index, bool dropIps) : IDisposable
    {
        public EventType Type { get; } = type;
        /// <summary>The type keeps no addresses: an address outside the ip field, and raw identity fields, are dropped.</summary>
        public bool DropIps { get; } = dropIps;
        public int Index { get; } = index;
        public object?[] Values { get; } = new object?[type.Fields.Count];
        public Rejection? Problem { get; set; }
        private ArrayBufferWriter<byte>? _extraBuffer;

        /// <summary>Undeclared fields, written as they are read; started by the first one.</summary>
        public Utf8JsonWriter Extra
        {
            get
            {
                if (field is null)
                {
                    _extraBuffer = new ArrayBufferWriter<byte>();
                    field = new Utf8JsonWriter(_extraBuffer, ExtraWriterOptions);
                    field.WriteStartObject();
                }
                return field;
            }
        }

        /// <summary>The undeclared fields as a JSON object, or null when none is worth keeping (one that held only an address leaves nothing).</summary>
        public string? Finish()
        {
            if (_extraBuffer is null || Problem is not null) return null;
            Extra.WriteEndObject();
            Extra.Flush();
            return _extraBuffer.WrittenCount > 2 ? Encoding.UTF8.GetString(_extraBuffer.WrittenSpan) : null;
        }

        public void Dispose()
        {
            if (_extraBuffer is not null) Extra.Dispose();
        }
    }

    /// <summary>
    /// Reads one property that is not the envelope into <paramref name="fields"/>. After a problem the rest is only
    /// skipped: the first problem is the event's, and the reader must still end up past the object.
    /// </summary>
    private void ReadField(ref Utf8JsonReader reader, Fields fields)
    {
        var depth = reader.CurrentDepth;
        if (fields.Problem is null && ReadFieldProblem(ref reader, fields) is { } problem) fields.Problem = problem;
        else if (fields.Problem is null) return;
        SkipToEndOfValue(ref reader, depth);
    }

    /// <summary>Moves the reader to the last token of the value of the property at <paramref name="depth"/>, wherever inside it a problem left it.</summary>
    private static void SkipToEndOfValue(ref Utf8JsonReader reader, int depth)
    {
        if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == depth) reader.Read();
        while (true)
        {
            if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray) reader.Skip();
            if (reader.CurrentDepth <= depth && reader.TokenType != JsonTokenType.PropertyName) return;
            reader.Read();
        }
    }

    private Rejection? ReadFieldProblem(ref Utf8JsonReader reader, Fields fields)
    {
        var (type, index, values, dropIps) = (fields.Type, fields.Index, fields.Values, fields.DropIps);
        // The body is valid UTF-8, so a name without escapes decodes onto the stack as it is; only an
        // escaped or long one becomes a string, under the stored-text rule.
        Span<char> nameBuffer = stackalloc char[128];
        string? nameText = null;
        scoped ReadOnlySpan<char> name;
        if (!reader.ValueIsEscaped && reader.ValueSpan.Length <= nameBuffer.Length) name = nameBuffer[..Encoding.UTF8.GetChars(reader.ValueSpan, nameBuffer)];
        else if (StoredText.TryRead(ref reader, _limits.MaxPropertyNameLength, out nameText, out var nameProblem)) name = nameText;
        else return new Rejection(index, PropertyShown(ref reader), $"is not a usable property name: it {nameProblem}");
        reader.Read();
        if (name is "type" or "id" or "timestamp")
        {
            reader.Skip();
            return null;
        }
        if (type.FieldLookup.TryGetValue(name, out var field))
        {
            if (!TryReadValue(ref reader, field, out var value, out var problem))
                return new Rejection(index, field.Name, problem ?? $"must be {Article(field.Type)}");
            if (value is string text)
            {
                // The ip field feeds the pipeline, which anonymizes or drops it; an address anywhere else is dropped here.
                if (dropIps && field.Name != WellKnownFields.Ip && StoredText.IsIpAddress(text)) return null;
                if (AllowedValueProblem(field, ref text) is { } notAllowed) return new Rejection(index, field.Name, notAllowed);
                value = text;
            }
            values[field.Ordinal] = value;
            return null;
        }
        if (dropIps && WellKnownFields.IsIdentity(name))
        {
            reader.Skip();
            return null;
        }
        if (name.Length > _limits.MaxPropertyNameLength)
            return new Rejection(index, StoredText.Echo(name.ToString()), $"is not a usable property name: it is longer than {_limits.MaxPropertyNameLength} characters");
        return ExtraValues.Copy(ref reader, fields.Extra, nameText ?? name.ToString(), dropIps, _limits) is { } extraProblem
            ? new Rejection(index, extraProblem.Path, extraProblem.Problem)
            : null;
    }

    /// <summary>A property name that cannot be stored, shown as sent (escapes and all), cut short.</summary>
    private static string PropertyShown(ref Utf8JsonReader reader) => StoredText.Echo(Encoding.UTF8.GetString(reader.ValueSpan));

    private bool TryReadValue(ref Utf8JsonReader reader, FieldDefinition field, out object? value, out string? problem)
    {
        value = null;
        problem = null;
        if (reader.TokenType == JsonTokenType.Null) return true;
        switch (field.Type)
        {
            case FieldType.String when reader.TokenType == JsonTokenType.String:
                if (!RepeatedText.TryRead(ref reader, _limits.MaxValueLength, out var text, out problem)) return false;
                value = text;
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
