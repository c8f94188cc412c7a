using System.Globalization;
using Tally.Core.Accept;
using Tally.Core.Configuration;
using Tally.Core.Events;

namespace Tally.Core.Query;

/// <summary>Raw events as the open raw API shows them, as JSON messages or table rows: what its pages, its export and `tally export` give.</summary>
public static class RawEventView
{
    /// <summary>
    /// One event as the open API shows it. Rows stored before the door checked everything may hold an
    /// address or a string that is not text; they are left out or mended here, so such a row never breaks a page.
    /// </summary>
    public static Dictionary<string, object?> Message(TallyEvent e, TallySchema schema)
    {
        var dropIps = !schema.KeepsIpAddresses(e.Type);
        var data = new Dictionary<string, object?>();
        foreach (var field in e.Type.Fields)
        {
            if (Shown(e, field, dropIps) is { } value) data[field.Name] = value;
        }
        if (e.Extra is not null && ExtraValues.ForReading(e.Extra, dropIps) is { } extra)
        {
            foreach (var property in extra.EnumerateObject()) data.TryAdd(property.Name, property.Value);
        }
        return new Dictionary<string, object?>
        {
            ["id"] = e.Id,
            ["type"] = e.Type.Name,
            ["timestamp"] = e.Timestamp,
            ["robot"] = e.IsRobot,
            ["visitor"] = Hex(e.VisitorId),
            ["session"] = Hex(e.SessionId),
            ["data"] = data,
        };
    }

    private static object? Shown(TallyEvent e, FieldDefinition field, bool dropIps) => e.Values[field.Ordinal] switch
    {
        string text when dropIps && (field.Name == WellKnownFields.Ip || StoredText.IsIpAddress(text)) => null,
        string text when StoredText.Problem(text, int.MaxValue) is not null => "\uFFFD",
        var value => value,
    };

    public static Table Table(IReadOnlyList<TallyEvent> events, IReadOnlyList<EventType> types, TallySchema schema)
    {
        var (columns, fields) = Columns(types);
        return new Table(columns, [.. events.Select(e => Row(e, fields, schema))]);
    }

    /// <summary>The raw table's columns for events of these types: the envelope, then each of their declared fields once.</summary>
    public static (List<string> Columns, List<string> Fields) Columns(IReadOnlyList<EventType> types)
    {
        var fields = types.SelectMany(t => t.Fields).Select(f => f.Name).Distinct().ToList();
        return ([.. (string[])["id", "type", "timestamp", "robot", "visitor", "session"], .. fields], fields);
    }

    /// <summary>One event as a row of the raw table, shown as <see cref="Message"/> shows it.</summary>
    public static IReadOnlyList<object?> Row(TallyEvent e, IReadOnlyList<string> fields, TallySchema schema)
    {
        var dropIps = !schema.KeepsIpAddresses(e.Type);
        var row = new List<object?>(6 + fields.Count) { e.Id, e.Type.Name, e.Timestamp, e.IsRobot, Hex(e.VisitorId), Hex(e.SessionId) };
        row.AddRange(fields.Select(f => e.Type.Field(f) is { } field ? Shown(e, field, dropIps) : null));
        return row;
    }

    public static string Hex(long id) => id.ToString("x16", CultureInfo.InvariantCulture);
}
