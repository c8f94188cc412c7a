using Tally.Core.Events;

namespace Tally.Core.Process;

/// <summary>
/// The last step of every type that has no anonymize step: raw identities (ip, user_agent, user_id,
/// session_id) are dropped after the steps that needed them, so no type, whether built-in, a bus message
/// or user-defined, writes them unless privacy.storeIpAddresses says so.
/// </summary>
public sealed class IdentityGuardProcessor(EventType type) : IEventProcessor
{
    private readonly int[] _ordinals = new[] { WellKnownFields.Ip, WellKnownFields.UserAgent, WellKnownFields.UserId, WellKnownFields.SessionId }
        .Select(type.OrdinalOf).Where(ordinal => ordinal >= 0).ToArray();

    public bool Process(TallyEvent e)
    {
        foreach (var ordinal in _ordinals) e.Values[ordinal] = null;
        return true;
    }
}
