using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Tally.Tracker;

/// <summary>The line format a <see cref="FileBackend"/> writes.</summary>
public enum TrackerFileFormat
{
    /// <summary>Tally's own NDJSON (<see cref="TallyEventLine"/>), in <c>events-yyyy-MM-dd.ndjson</c>: what <c>tally import</c> reads.</summary>
    Ndjson,
    /// <summary>PKP's usage-event log (OJS/OMP/OPS 3.4+), in <c>usage_events_yyyyMMdd.log</c>: what PKP's loader and Tally's read.</summary>
    Pkp,
}

/// <summary>A tracker event that cannot be written in the backend's format; the routing logs it and counts it as failed.</summary>
public sealed class TrackerEventFormatException(string message) : Exception(message);

/// <summary>
/// Appends each event as one line to a file per day (the day of the event's time in
/// <see cref="TimeZone"/>). Each line reaches the operating system before Send returns, so a crash
/// of the application loses nothing written. For PKP, the ip is hashed with a salt kept in the
/// folder and renewed each day, as PKP does, so the files hold no addresses.
/// </summary>
public sealed class FileBackend : ITrackerBackend, IDisposable
{
    private static readonly string[] PkpIds =
        ["assocType", "contextId", "submissionId", "representationId", "submissionFileId", "fileType", "issueId", "issueGalleyId", "chapterId", "seriesId"];

    private readonly string _directory;
    private readonly TrackerFileFormat _format;
    private readonly bool _hashIp;
    private readonly Lock _lock = new();
    private readonly ArrayBufferWriter<byte> _line = new(1024);
    private readonly Utf8JsonWriter _writer;
    private FileStream? _file;
    private DateOnly _fileDay;
    private (DateOnly Day, string Value)? _salt;

    public FileBackend(string directory, TrackerFileFormat format, TimeZoneInfo? timeZone = null, bool hashIp = true)
    {
        _directory = Path.GetFullPath(directory);
        _format = format;
        _hashIp = hashIp;
        TimeZone = timeZone ?? TimeZoneInfo.Utc;
        Directory.CreateDirectory(_directory);
        _writer = new Utf8JsonWriter(_line);
    }

    public TimeZoneInfo TimeZone { get; }

    /// <summary>The file an event of this day goes to.</summary>
    public string PathFor(DateOnly day) => Path.Combine(_directory, _format == TrackerFileFormat.Pkp
        ? $"usage_events_{day:yyyyMMdd}.log"
        : $"events-{day:yyyy-MM-dd}.ndjson");

    /// <exception cref="TrackerEventFormatException">A PKP line needs ids the event does not carry.</exception>
    public void Send(TrackerEvent trackerEvent)
    {
        var local = TimeZoneInfo.ConvertTimeFromUtc(trackerEvent.Timestamp, TimeZone);
        var day = DateOnly.FromDateTime(local);
        lock (_lock)
        {
            _line.ResetWrittenCount();
            _writer.Reset();
            if (_format == TrackerFileFormat.Pkp) WritePkp(trackerEvent, local, day);
            else TallyEventLine.Write(_writer, trackerEvent);
            _writer.Flush();
            _line.Write("\n"u8);
            FileFor(day).Write(_line.WrittenSpan);
            _file!.Flush();
        }
    }

    private FileStream FileFor(DateOnly day)
    {
        if (_file is not null && _fileDay == day) return _file;
        _file?.Dispose();
        _file = new FileStream(PathFor(day), FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        _fileDay = day;
        return _file;
    }

    /// <summary>One line as PKP's LogUsageEvent writes it; ids come from the event's data (PKP's names), the visitor from the request context.</summary>
    private void WritePkp(TrackerEvent trackerEvent, DateTime local, DateOnly day)
    {
        var ids = new long?[PkpIds.Length];
        for (var i = 0; i < PkpIds.Length; i++) ids[i] = PkpId(trackerEvent, PkpIds[i]);
        if (ids[0] is null || ids[1] is null)
            throw new TrackerEventFormatException($"event '{trackerEvent.Name}' has no {(ids[0] is null ? "assocType" : "contextId")}, which every PKP usage-log line needs");

        _writer.WriteStartObject();
        _writer.WriteString("time"u8, local.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture));
        var ip = Text(trackerEvent, "ip");
        _writer.WriteString("ip"u8, ip is null ? null : _hashIp ? HashIp(ip, day) : ip);
        _writer.WriteString("userAgent"u8, Text(trackerEvent, "user_agent"));
        _writer.WriteString("canonicalUrl"u8, Text(trackerEvent, "canonicalUrl") ?? Text(trackerEvent, "url"));
        for (var i = 0; i < PkpIds.Length; i++)
        {
            _writer.WritePropertyName(PkpIds[i]);
            if (ids[i] is { } id) _writer.WriteNumberValue(id);
            else _writer.WriteNullValue();
        }
        _writer.WriteString("country"u8, Text(trackerEvent, "country"));
        _writer.WriteString("region"u8, Text(trackerEvent, "region"));
        _writer.WriteString("city"u8, Text(trackerEvent, "city"));
        _writer.WriteStartArray("institutionIds"u8);
        if (TallyEventLine.Field(trackerEvent, "institutionIds") is System.Collections.IEnumerable institutions and not string)
        {
            foreach (var institution in institutions)
            {
                _writer.WriteNumberValue(ToLong(institution) ?? throw new TrackerEventFormatException($"event '{trackerEvent.Name}': institutionIds must hold integers"));
            }
        }
        _writer.WriteEndArray();
        _writer.WriteEndObject();
    }

    private static string? Text(TrackerEvent trackerEvent, string key) => TallyEventLine.Field(trackerEvent, key) switch
    {
        null => null,
        string text => text,
        JsonElement { ValueKind: JsonValueKind.String } element => element.GetString(),
        var other => Convert.ToString(other, CultureInfo.InvariantCulture),
    };

    private static long? PkpId(TrackerEvent trackerEvent, string key)
    {
        var value = TallyEventLine.Field(trackerEvent, key);
        if (value is null) return null;
        return ToLong(value) ?? throw new TrackerEventFormatException($"event '{trackerEvent.Name}': {key} must be an integer, not '{value}'");
    }

    private static long? ToLong(object? value) => value switch
    {
        long l => l,
        int i => i,
        short s => s,
        string text when long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var parsed) => parsed,
        JsonElement { ValueKind: JsonValueKind.Number } element when element.TryGetInt64(out var fromJson) => fromJson,
        _ => null,
    };

    /// <summary>PKP's hash('sha256', ip . salt), with a salt that changes each day so visitors cannot be followed across days.</summary>
    private string HashIp(string ip, DateOnly day)
    {
        var salt = SaltFor(day);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(ip + salt)));
    }

    private string SaltFor(DateOnly day)
    {
        if (_salt is { } cached && cached.Day == day) return cached.Value;
        // Kept in the folder, so a restart the same day keeps hashing a visitor the same way.
        var path = Path.Combine(_directory, ".salt");
        var stamp = day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        var saved = File.Exists(path) ? File.ReadAllText(path).Split(' ', 2) : [];
        var value = saved.Length == 2 && saved[0] == stamp ? saved[1].Trim() : null;
        if (value is null)
        {
            value = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
            File.WriteAllText(path, $"{stamp} {value}");
        }
        _salt = (day, value);
        return value;
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _file?.Dispose();
            _file = null;
            _writer.Dispose();
        }
    }
}
