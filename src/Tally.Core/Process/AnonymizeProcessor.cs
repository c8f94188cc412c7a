using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Tally.Core.Events;

namespace Tally.Core.Process;

/// <summary>
/// Replaces who-did-it with salted hashes: a visitor id and a COUNTER session id. The salt changes
/// each UTC day, so ids cannot be linked across days. Raw ip and user_agent are removed unless kept
/// on purpose.
/// </summary>
/// <remarks>
/// The visitor is identified in COUNTER's order: user id, session cookie, then IP + user agent.
/// The session follows COUNTER's order for unique counts: the session cookie + date when there is
/// one; otherwise the user (or IP + user agent) + date + hour. An event with none of these counts as
/// its own visitor and session.
/// </remarks>
public sealed class AnonymizeProcessor(ISaltSource salts, bool keepIp, bool keepUserAgent) : IEventProcessor
{
    private readonly ConcurrentDictionary<DateOnly, byte[]> _salts = new();

    /// <summary>
    /// Asks the source for the salt of each day in the batch, every batch rather than once: the source
    /// answers from its own cache, records the salt's use (a past day's salt lives from its last use),
    /// and after a purge hands out the day's new salt.
    /// </summary>
    public async ValueTask PrepareAsync(IReadOnlyList<TallyEvent> batch, CancellationToken cancellationToken)
    {
        DateOnly? last = null;
        foreach (var e in batch)
        {
            var day = DateOnly.FromDateTime(e.Timestamp);
            if (day == last) continue;
            _salts[day] = await salts.GetSaltAsync(day, cancellationToken);
            last = day;
        }
    }

    public bool Process(TallyEvent e)
    {
        var type = e.Type;
        var day = DateOnly.FromDateTime(e.Timestamp);
        var salt = _salts[day];
        var userId = e.Text(type.OrdinalOf(WellKnownFields.UserId));
        var sessionCookie = e.Text(type.OrdinalOf(WellKnownFields.SessionId));
        var ipOrdinal = type.OrdinalOf(WellKnownFields.Ip);
        var uaOrdinal = type.OrdinalOf(WellKnownFields.UserAgent);
        var ip = e.Text(ipOrdinal);
        var userAgent = e.Text(uaOrdinal);
        var device = ip is null && userAgent is null ? null : $"{ip}\u001f{userAgent}";

        // The kind is part of what is hashed, so a user id and someone else's cookie with the same text stay apart.
        var visitor = userId is not null ? $"u\u001f{userId}" : sessionCookie is not null ? $"c\u001f{sessionCookie}" : device is not null ? $"d\u001f{device}" : $"e\u001f{e.Id}";
        e.VisitorId = Hash(salt, 'v', visitor);
        var date = day.DayNumber;
        e.SessionId = sessionCookie is not null
            ? Hash(salt, 's', $"{date}\u001f{sessionCookie}")
            : Hash(salt, 'h', $"{date}\u001f{e.Timestamp.Hour}\u001f{visitor}");

        // Raw identities never reach storage: they live on only as the salted visitor and session ids.
        Forget(e, type.OrdinalOf(WellKnownFields.UserId));
        Forget(e, type.OrdinalOf(WellKnownFields.SessionId));
        if (!keepIp) Forget(e, ipOrdinal);
        if (!keepUserAgent) Forget(e, uaOrdinal);
        return true;
    }

    private static void Forget(TallyEvent e, int ordinal)
    {
        if (ordinal >= 0) e.Values[ordinal] = null;
    }

    /// <summary>The first 64 bits of HMAC-SHA256(salt, kind + text): exact enough for counting, useless for reversing.</summary>
    internal static long Hash(byte[] salt, char kind, string text)
    {
        var length = Encoding.UTF8.GetMaxByteCount(text.Length) + 1;
        var rented = length > 512 ? ArrayPool<byte>.Shared.Rent(length) : null;
        Span<byte> buffer = rented is null ? stackalloc byte[512] : rented;
        buffer[0] = (byte)kind;
        var written = Encoding.UTF8.GetBytes(text, buffer[1..]) + 1;
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(salt, buffer[..written], mac);
        if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        return BinaryPrimitives.ReadInt64LittleEndian(mac);
    }
}
