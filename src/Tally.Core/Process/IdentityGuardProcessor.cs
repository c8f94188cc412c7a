using Tally.Core.Events;

namespace Tally.Core.Process;

/// <summary>
/// The last step of every type that has no anonymize step: raw identities (<see cref="WellKnownFields.IsIdentity"/>)
/// are dropped after the steps that needed them, so no type, whether built-in, a bus message or user-defined,
/// writes them unless privacy.storeIpAddresses says so.
/// </summary>
public sealed class IdentityGuardProcessor(EventType type) : IEventProcessor
{
    private readonly int[] _ordinals = type.Fields.Where(f => WellKnownFields.IsIdentity(f.Name)).Select(f => f.Ordinal).ToArray();

    public bool Process(TallyEvent e)
    {
        foreach (var ordinal in _ordinals) e.Values[ordinal] = null;
        return true;
    }
}
