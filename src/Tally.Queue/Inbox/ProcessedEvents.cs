using System.Text;
using Tally.Core.Configuration;
using Tally.Core.Events;

namespace Tally.Queue.Inbox;

/// <summary>
/// Processed events as an inbox record: type, id, time, the pipeline's robot flag and visitor and session hashes, and
/// each value under its field's name, so that a record written before a configuration change still reads after it.
/// Only what the pipeline kept is written, so an address or user agent it forgot is never at rest here either.
/// </summary>
internal static class ProcessedEvents
{
    private enum Tag : byte { Text = 1, Integer = 2, Number = 3, Flag = 4 }

    public static byte[] Encode(IReadOnlyList<TallyEvent> events)
    {
        using var buffer = new MemoryStream(events.Count * 192);
        using (var writer = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(events.Count);
            foreach (var e in events)
            {
                writer.Write(e.Type.Name);
                writer.Write(e.Id);
                writer.Write(e.Timestamp.Ticks);
                writer.Write(e.IsRobot);
                writer.Write(e.VisitorId);
                writer.Write(e.SessionId);
                writer.Write(e.Values.Count(v => v is not null));
                foreach (var field in e.Type.Fields)
                {
                    var value = e.Values[field.Ordinal];
                    if (value is null) continue;
                    writer.Write(field.Name);
                    switch (value)
                    {
                        case string text: writer.Write((byte)Tag.Text); writer.Write(text); break;
                        case long integer: writer.Write((byte)Tag.Integer); writer.Write(integer); break;
                        case double number: writer.Write((byte)Tag.Number); writer.Write(number); break;
                        case bool flag: writer.Write((byte)Tag.Flag); writer.Write(flag); break;
                        default: throw new InvalidOperationException($"field '{field.Name}' holds a {value.GetType().Name}");
                    }
                }
                writer.Write(e.Extra is not null);
                if (e.Extra is not null) writer.Write(e.Extra);
            }
        }
        return buffer.ToArray();
    }

    /// <summary>The record's events under the configuration now; what it no longer declares is left out and said in <paramref name="problems"/>.</summary>
    public static List<TallyEvent> Decode(byte[] record, TallySchema schema, List<string> problems)
    {
        using var reader = new BinaryReader(new MemoryStream(record, writable: false), Encoding.UTF8);
        var count = reader.ReadInt32();
        var events = new List<TallyEvent>(count);
        for (var i = 0; i < count; i++)
        {
            var typeName = reader.ReadString();
            var id = reader.ReadString();
            var timestamp = new DateTime(reader.ReadInt64(), DateTimeKind.Utc);
            var (robot, visitor, session) = (reader.ReadBoolean(), reader.ReadInt64(), reader.ReadInt64());
            var type = schema.EventTypes.GetValueOrDefault(typeName);
            var values = type is null ? null : new object?[type.Fields.Count];
            for (var present = reader.ReadInt32(); present > 0; present--)
            {
                var name = reader.ReadString();
                object value = (Tag)reader.ReadByte() switch
                {
                    Tag.Text => reader.ReadString(),
                    Tag.Integer => reader.ReadInt64(),
                    Tag.Number => reader.ReadDouble(),
                    Tag.Flag => reader.ReadBoolean(),
                    var tag => throw new InvalidDataException($"an inbox record holds a value of unknown kind {(byte)tag}"),
                };
                if (type is null) continue;
                if (type.OrdinalOf(name) is >= 0 and var ordinal) values![ordinal] = value;
                else problems.Add($"event {id}: field '{name}' of '{typeName}' is no longer declared, and its value is left out");
            }
            var extra = reader.ReadBoolean() ? reader.ReadString() : null;
            if (type is null)
            {
                problems.Add($"event {id}: type '{typeName}' is no longer configured, and the event is left out");
                continue;
            }
            events.Add(new TallyEvent(type, id, timestamp, values!, extra) { IsRobot = robot, VisitorId = visitor, SessionId = session });
        }
        return events;
    }
}
