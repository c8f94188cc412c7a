using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Tally.Amqp;
using Tally.Core.Accept;
using Tally.Core.Configuration;
using Tally.Core.Events;

namespace Tally.Sources.Amqp;

/// <summary>
/// What a message becomes: always the stored message itself, and, when its topic is mapped to an
/// event type, a usage event read from its body (or why the body is not one).
/// </summary>
public sealed record RoutedMessage(TallyEvent Message, TallyEvent? Usage, Rejection? UsageRejection);

/// <summary>
/// Turns bus messages into events, as datanommer stores them: every message is kept with its
/// topic, category, id, headers and body; messages on mapped topics also enter a usage pipeline.
/// </summary>
public sealed class BusRouting
{
    private readonly EventParser _parser;
    private readonly EventType _messageType;
    private readonly (TopicPattern Pattern, EventType Type)[] _topics;
    private readonly int _categorySegment;
    private readonly int _topicOrdinal, _categoryOrdinal, _messageIdOrdinal;

    private BusRouting(EventParser parser, EventType messageType, (TopicPattern, EventType)[] topics, int categorySegment)
    {
        _parser = parser;
        _messageType = messageType;
        _topics = topics;
        _categorySegment = categorySegment;
        _topicOrdinal = messageType.OrdinalOf("topic");
        _categoryOrdinal = messageType.OrdinalOf("category");
        _messageIdOrdinal = messageType.OrdinalOf("message_id");
    }

    public const string Unclassified = "Unclassified";
    /// <summary>Prefix of a stored message's event id; the usage event read from its body keeps the body's id, or gets the message's id plus "/event".</summary>
    public const string IdPrefix = "amqp:";
    private const int IdPrefixLength = 5;

    /// <exception cref="ConfigurationException">sources.amqp names a type or field that is not configured, or a bad topic pattern.</exception>
    public static BusRouting Compile(TallySchema schema, EventParser parser)
    {
        var amqp = schema.Options.Sources.Amqp;
        var messageType = schema.EventTypes.GetValueOrDefault(amqp.MessageType)
            ?? throw new ConfigurationException("sources.amqp.messageType", $"'{amqp.MessageType}' is not a configured event type");
        foreach (var name in (string[])["topic", "category", "message_id"])
        {
            if (messageType.Field(name) is not { Type: FieldType.String })
                throw new ConfigurationException("sources.amqp.messageType", $"event type '{messageType.Name}' needs a string field '{name}' to store bus messages");
        }
        if (amqp.CategorySegment < 0) throw new ConfigurationException("sources.amqp.categorySegment", "must not be negative");
        var topics = new (TopicPattern, EventType)[amqp.Topics.Count];
        for (var i = 0; i < topics.Length; i++)
        {
            var rule = amqp.Topics[i];
            TopicPattern pattern;
            try { pattern = new TopicPattern(rule.Topic); }
            catch (FormatException e) { throw new ConfigurationException($"sources.amqp.topics[{i}].topic", e.Message); }
            var type = schema.EventTypes.GetValueOrDefault(rule.Type)
                ?? throw new ConfigurationException($"sources.amqp.topics[{i}].type", $"'{rule.Type}' is not a configured event type");
            topics[i] = (pattern, type);
        }
        if (amqp.Uri is not null && (!Uri.TryCreate(amqp.Uri, UriKind.Absolute, out var uri) || uri.Scheme is not ("amqp" or "amqps")))
            throw new ConfigurationException("sources.amqp.uri", $"'{amqp.Uri}' is not an amqp:// or amqps:// URI (amqp://user:password@host:port/vhost)");
        if (amqp.Uri is not null && amqp.Queues.Count == 0)
            throw new ConfigurationException("sources.amqp.queues", "name at least one queue to consume from sources.amqp.uri");
        for (var i = 0; i < amqp.Queues.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(amqp.Queues[i].Name)) throw new ConfigurationException($"sources.amqp.queues[{i}].name", "is required");
            for (var b = 0; b < amqp.Queues[i].Bindings.Count; b++)
            {
                try { _ = new TopicPattern(amqp.Queues[i].Bindings[b]); }
                catch (FormatException e) { throw new ConfigurationException($"sources.amqp.queues[{i}].bindings[{b}]", e.Message); }
            }
        }
        return new BusRouting(parser, messageType, topics, amqp.CategorySegment);
    }

    public EventType MessageType => _messageType;

    /// <summary>The category of a topic: its configured segment, as datanommer has it ("bodhi" in org.fedoraproject.prod.bodhi.update).</summary>
    public string CategoryOf(string topic)
    {
        var segments = topic.Split('.');
        // datanommer counts from one segment earlier for ActiveMQ's VirtualTopic names.
        var index = topic.Contains("VirtualTopic", StringComparison.Ordinal) ? _categorySegment - 1 : _categorySegment;
        return index >= 0 && index < segments.Length && segments[index].Length > 0 ? segments[index] : Unclassified;
    }

    public RoutedMessage Route(BusMessage message, DateTime receivedAt)
    {
        // A publisher's clock may be wrong; a message is never dated in the future.
        var when = message.Timestamp is { } sent && sent <= receivedAt ? sent : receivedAt;
        when = new DateTime(when.Ticks - when.Ticks % TimeSpan.TicksPerMillisecond, DateTimeKind.Utc);
        // Stored messages have ids of their own, so a body that reuses the message id as its event id does not collide.
        var id = IdPrefix + (message.MessageId is { Length: > 0 and <= EventParser.MaxIdLength - IdPrefixLength } given ? given : ContentId(message));
        var values = new object?[_messageType.Fields.Count];
        values[_topicOrdinal] = message.Topic;
        values[_categoryOrdinal] = CategoryOf(message.Topic);
        values[_messageIdOrdinal] = message.MessageId;
        var stored = new TallyEvent(_messageType, id, when, values, Extra(message));

        foreach (var (pattern, type) in _topics)
        {
            if (!pattern.Matches(message.Topic)) continue;
            var rejection = _parser.ParseOne(message.Body.Span, new EventOrigin($"{id}/event", when, type), out var usage);
            return new RoutedMessage(stored, usage, rejection);
        }
        return new RoutedMessage(stored, null, null);
    }

    /// <summary>A message without an id is named by its content, so a redelivery is still recognised.</summary>
    private static string ContentId(BusMessage message)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes(message.Topic + "\n" + message.HeadersJson + "\n"));
        hash.AppendData(message.Body.Span);
        return "sha256-" + Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>Headers and body as one JSON object; a body that is not JSON is kept as text, or as base64 when not UTF-8 either.</summary>
    private static string Extra(BusMessage message)
    {
        var buffer = new ArrayBufferWriter<byte>(message.Body.Length + 256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WritePropertyName("headers");
            if (message.HeadersJson is { } headers) writer.WriteRawValue(headers);
            else
            {
                writer.WriteStartObject();
                writer.WriteEndObject();
            }
            writer.WritePropertyName("body");
            if (IsJson(message.Body.Span)) writer.WriteRawValue(message.Body.Span, skipInputValidation: true);
            else if (System.Text.Unicode.Utf8.IsValid(message.Body.Span)) writer.WriteStringValue(message.Body.Span);
            else
            {
                writer.WriteStartObject();
                writer.WriteBase64String("base64", message.Body.Span);
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static bool IsJson(ReadOnlySpan<byte> body)
    {
        if (body.IsEmpty) return false;
        try
        {
            var reader = new Utf8JsonReader(body);
            if (!reader.Read()) return false;
            reader.Skip();
            return !reader.Read();
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
