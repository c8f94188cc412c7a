using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Globalization;
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
        var days = new HashSet<DateOnly>();
        foreach (var e in batch) days.Add(DateOnly.FromDateTime(e.Timestamp));
        foreach (var (day, salt) in await salts.GetSaltsAsync(days, cancellationToken)) _salts[day] = salt;
    }

    public bool Process(TallyEvent e)
    {
        var type = e.Type;
        var day = DateOnly.FromDateTime(e.Timestamp);
        var userId = e.Text(type.OrdinalOf(WellKnownFields.UserId));
        var sessionCookie = e.Text(type.OrdinalOf(WellKnownFields.SessionId));
        var ipOrdinal = type.OrdinalOf(WellKnownFields.Ip);
        var uaOrdinal = type.OrdinalOf(WellKnownFields.UserAgent);
        var ip = e.Text(ipOrdinal);
        var userAgent = e.Text(uaOrdinal);

        // The kind is part of what is hashed, so a user id and someone else's cookie with the same text stay apart:
        // u␟user, c␟cookie, d␟ip␟user-agent, or e␟event id.
        var (kind, text, device) = userId is not null ? ('u', userId, null)
            : sessionCookie is not null ? ('c', sessionCookie, null)
            : ip is not null || userAgent is not null ? ('d', ip ?? "", userAgent ?? "")
            : ('e', e.Id, (string?)null);
        var length = Prefix + 2 + Encoding.UTF8.GetMaxByteCount(text.Length + (device?.Length + 1 ?? 0) + (sessionCookie?.Length ?? 0)) + 12;
        var rented = length > 1024 ? ArrayPool<byte>.Shared.Rent(length) : null;
        Span<byte> buffer = rented is null ? stackalloc byte[1024] : rented;
        // The visitor's text goes after room for the longest prefix, so each hash below reads one contiguous span.
        var end = Prefix;
        buffer[end++] = (byte)kind;
        buffer[end++] = Separator;
        end += Encoding.UTF8.GetBytes(text, buffer[end..]);
        if (device is not null)
        {
            buffer[end++] = Separator;
            end += Encoding.UTF8.GetBytes(device, buffer[end..]);
        }
        var mac = Mac(_salts[day]);
        e.VisitorId = Hash(mac, buffer[(Prefix - 1)..end], 'v');
        e.SessionId = sessionCookie is not null
            ? Hash(mac, SessionText(buffer, day.DayNumber, sessionCookie), 's')
            : Hash(mac, HourText(buffer, day.DayNumber, e.Timestamp.Hour, end), 'h');
        if (rented is not null) ArrayPool<byte>.Shared.Return(rented);

        // Raw identities never reach storage: they live on only as the salted visitor and session ids.
        Forget(e, type.OrdinalOf(WellKnownFields.UserId));
        Forget(e, type.OrdinalOf(WellKnownFields.SessionId));
        if (!keepIp) Forget(e, ipOrdinal);
        if (!keepUserAgent) Forget(e, uaOrdinal);
        return true;
    }

    /// <summary>Room before the visitor's text for the longest prefix: kind, a day number, an hour and two separators.</summary>
    private const int Prefix = 24;
    private const byte Separator = 0x1f;

    /// <summary>day␟hour␟visitor, written just before the visitor's text already in <paramref name="buffer"/>.</summary>
    private static Span<byte> HourText(Span<byte> buffer, int dayNumber, int hour, int end)
    {
        Span<byte> prefix = stackalloc byte[Prefix];
        var written = Digits(dayNumber, prefix);
        prefix[written++] = Separator;
        written += Digits(hour, prefix[written..]);
        prefix[written++] = Separator;
        var start = Prefix - written;
        prefix[..written].CopyTo(buffer[start..]);
        return buffer[(start - 1)..end];
    }

    /// <summary>day␟cookie, written over the visitor's text, which is hashed by then.</summary>
    private static Span<byte> SessionText(Span<byte> buffer, int dayNumber, string cookie)
    {
        var end = Prefix;
        end += Digits(dayNumber, buffer[end..]);
        buffer[end++] = Separator;
        end += Encoding.UTF8.GetBytes(cookie, buffer[end..]);
        return buffer[(Prefix - 1)..end];
    }

    private static int Digits(int value, Span<byte> destination)
    {
        value.TryFormat(destination, out var written, provider: CultureInfo.InvariantCulture);
        return written;
    }

    /// <summary>
    /// One keyed HMAC per thread, reused while the day's salt stays the same: setting a key up costs as much as
    /// the hash itself, and batches hold few days.
    /// </summary>
    [ThreadStatic] private static (byte[] Salt, IncrementalHash Mac)? t_mac;

    private static IncrementalHash Mac(byte[] salt)
    {
        if (t_mac is { } cached && ReferenceEquals(cached.Salt, salt)) return cached.Mac;
        t_mac?.Mac.Dispose();
        var mac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, salt);
        t_mac = (salt, mac);
        return mac;
    }

    /// <summary>
    /// The first 64 bits of HMAC-SHA256(salt, kind + text): exact enough for counting, useless for reversing.
    /// <paramref name="kindAndText"/> has a free byte in front, which takes <paramref name="kind"/>.
    /// </summary>
    private static long Hash(IncrementalHash mac, Span<byte> kindAndText, char kind)
    {
        kindAndText[0] = (byte)kind;
        mac.AppendData(kindAndText);
        Span<byte> digest = stackalloc byte[32];
        mac.GetHashAndReset(digest);
        return BinaryPrimitives.ReadInt64LittleEndian(digest);
    }

    private static void Forget(TallyEvent e, int ordinal)
    {
        if (ordinal >= 0) e.Values[ordinal] = null;
    }
}
