using Tally.Core.Configuration;
using Tally.Core.Events;

namespace Tally.Core.Process;

/// <summary>
/// Attributes an event to the configured institution whose IP ranges hold its address, before
/// anonymization drops the address. The institution's customer id goes into the institution field.
/// </summary>
public sealed class InstitutionProcessor(IpRangeMap<Institution> institutions) : IEventProcessor
{
    public bool Process(TallyEvent e)
    {
        var target = e.Type.OrdinalOf(WellKnownFields.Institution);
        if (e.Address is { } address && institutions.Find(address) is { } institution)
            e.Values[target] = institution.CustomerId;
        return true;
    }
}
