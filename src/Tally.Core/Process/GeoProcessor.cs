using Tally.Core.Events;

namespace Tally.Core.Process;

/// <summary>Fills country, and region and city at city level, from a geo database before the address is dropped.</summary>
public sealed class GeoProcessor(IGeoLookup geo, bool cityLevel) : IEventProcessor
{
    public bool Process(TallyEvent e)
    {
        var type = e.Type;
        if (e.Address is not { } address || geo.Lookup(address) is not { } location)
            return true;
        e.Values[type.OrdinalOf(WellKnownFields.Country)] = location.CountryCode;
        if (!cityLevel) return true;
        Set(e, type.OrdinalOf(WellKnownFields.Region), location.SubdivisionCode);
        Set(e, type.OrdinalOf(WellKnownFields.City), location.City);
        return true;
    }

    private static void Set(TallyEvent e, int ordinal, string? value)
    {
        if (ordinal >= 0) e.Values[ordinal] = value;
    }
}
