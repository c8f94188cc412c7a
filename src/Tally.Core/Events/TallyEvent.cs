using System.Net;

namespace Tally.Core.Events;

/// <summary>
/// One event on its way through the pipeline. Field values sit in an array indexed by the
/// type's field ordinals: string, long, double or bool, or null when absent.
/// </summary>
public sealed class TallyEvent
{
    public TallyEvent(EventType type, string id, DateTime timestamp, object?[] values, string? extra = null)
    {
        Type = type;
        Id = id;
        Timestamp = timestamp;
        Values = values;
        Extra = extra;
    }

    public EventType Type { get; }
    /// <summary>The client's idempotency key, or one generated on accept.</summary>
    public string Id { get; }
    /// <summary>UTC, millisecond precision.</summary>
    public DateTime Timestamp { get; }
    public object?[] Values { get; }
    /// <summary>Fields the type does not declare, as a JSON object, kept as sent.</summary>
    public string? Extra { get; }

    public bool IsRobot { get; set; }
    /// <summary>Salted hash of the visitor: user id, session cookie, or IP + user agent.</summary>
    public long VisitorId { get; set; }
    /// <summary>Salted hash of the COUNTER session.</summary>
    public long SessionId { get; set; }

    public object? this[string field] => Type.OrdinalOf(field) is >= 0 and var i ? Values[i] : null;

    public string? Text(int ordinal) => ordinal >= 0 ? Values[ordinal] as string : null;

    /// <summary>The ip field parsed, once for all the processors that attribute by address; null when absent or not an address.</summary>
    public IPAddress? Address
    {
        get
        {
            if (!_addressParsed)
            {
                _address = IPAddress.TryParse(Text(Type.OrdinalOf(WellKnownFields.Ip)), out var address) ? address : null;
                _addressParsed = true;
            }
            return _address;
        }
    }

    private IPAddress? _address;
    private bool _addressParsed;
}
