using System.Buffers.Text;
using System.Collections.Frozen;
using System.Globalization;
using System.Text.Json;
using Tally.Core.Accept;
using Tally.Core.Configuration;
using Tally.Core.Events;

namespace Tally.Sources.Logs;

/// <summary>
/// PKP's usage-event log (OJS, OMP and OPS 3.4+): one JSON object per line, as LogUsageEvent writes
/// it. Lines are checked as PKP's UsageStatsLoader checks them, then mapped to Tally event types by
/// what was visited, so COUNTER sees a galley download as a request, an abstract as an
/// investigation, and a supplementary file as an investigation only.
/// </summary>
/// <remarks>
/// The ip is already a salted hash written by PKP: it is used as it is, as the visitor's identity,
/// and never looked up. Country, region and institutions come from the log.
/// </remarks>
public sealed class PkpLogFormat : ILogFormat
{
    /// <summary>The kinds of page PKP logs, by its ASSOC_TYPE_* constants (lib/pkp PKPApplication and the apps' Application).</summary>
    public static readonly FrozenDictionary<int, string> AssocTypes = new Dictionary<int, string>
    {
        [0x0000100] = "context",            // ASSOC_TYPE_JOURNAL (OJS), ASSOC_TYPE_SERVER (OPS): the homepage
        [0x0000200] = "context",            // ASSOC_TYPE_PRESS (OMP)
        [0x0100009] = "submission",         // ASSOC_TYPE_SUBMISSION: the abstract or landing page
        [0x0000203] = "submissionFile",     // ASSOC_TYPE_SUBMISSION_FILE: a primary galley
        [0x0000213] = "supplementaryFile",  // ASSOC_TYPE_SUBMISSION_FILE_COUNTER_OTHER: supplementary and dependent files
        [0x0000103] = "issue",              // ASSOC_TYPE_ISSUE: a table of contents (OJS)
        [0x0000105] = "issueGalley",        // ASSOC_TYPE_ISSUE_GALLEY (OJS)
        [0x0000214] = "chapter",            // ASSOC_TYPE_CHAPTER (OMP)
        [0x0000212] = "series",             // ASSOC_TYPE_SECTION, a series in OMP
    }.ToFrozenDictionary();

    /// <summary>The Tally event type each kind goes to unless sources.pkp.types says otherwise; "" ignores a kind.</summary>
    public static readonly FrozenDictionary<string, string> DefaultTypes = new Dictionary<string, string>
    {
        ["context"] = "context-view",
        ["submission"] = "record-view",
        ["submissionFile"] = "file-download",
        ["supplementaryFile"] = "supplementary-download",
        ["issue"] = "issue-view",
        ["issueGalley"] = "issue-download",
        ["chapter"] = "record-view",
        ["series"] = "context-view",
    }.ToFrozenDictionary();

    /// <summary>PKP's StatisticsHelper::STATISTICS_FILE_TYPE_* values.</summary>
    private static readonly string?[] FileTypes = [null, "html", "pdf", "other", "doc"];

    private readonly EventParser _parser;
    private readonly FrozenDictionary<string, EventType?> _types;
    private readonly TimeZoneInfo _zone;
    private readonly string _application;
    private readonly FrozenDictionary<long, string> _institutions;

    private PkpLogFormat(EventParser parser, FrozenDictionary<string, EventType?> types, TimeZoneInfo zone, string application, FrozenDictionary<long, string> institutions)
    {
        _parser = parser;
        _types = types;
        _zone = zone;
        _application = application;
        _institutions = institutions;
    }

    public string Name => "pkp";

    public TimeZoneInfo TimeZone => _zone;

    /// <exception cref="ConfigurationException">sources.pkp names a kind, type, application or time zone that does not exist.</exception>
    public static PkpLogFormat Create(TallySchema schema, EventParser parser)
    {
        var options = schema.Options.Sources.Pkp;
        foreach (var kind in options.Types.Keys)
        {
            if (!DefaultTypes.ContainsKey(kind))
                throw new ConfigurationException($"sources.pkp.types.{kind}", $"is not one of {string.Join(", ", DefaultTypes.Keys.Order(StringComparer.Ordinal))}");
        }
        var types = new Dictionary<string, EventType?>();
        foreach (var (kind, fallback) in DefaultTypes)
        {
            var name = options.Types.GetValueOrDefault(kind, fallback);
            if (name.Length == 0)
            {
                types[kind] = null;
                continue;
            }
            var type = schema.EventTypes.GetValueOrDefault(name)
                ?? throw new ConfigurationException($"sources.pkp.types.{kind}", $"'{name}' is not a configured event type; configure it, or map {kind} to \"\" to ignore those lines");
            if (type.Field(WellKnownFields.ItemId) is not { Type: FieldType.String })
                throw new ConfigurationException($"sources.pkp.types.{kind}", $"event type '{name}' needs a string field '{WellKnownFields.ItemId}'");
            types[kind] = type;
        }
        if (options.Application is not ("ojs" or "omp" or "ops"))
            throw new ConfigurationException("sources.pkp.application", $"'{options.Application}' is not one of ojs, omp, ops");
        TimeZoneInfo zone;
        try { zone = TimeZoneInfo.FindSystemTimeZoneById(options.TimeZone); }
        catch (Exception e) when (e is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            throw new ConfigurationException("sources.pkp.timeZone", $"'{options.TimeZone}' is not a time zone this machine knows (use an IANA name such as Europe/Berlin)");
        }
        var institutions = new Dictionary<long, string>();
        foreach (var (id, customer) in options.Institutions)
        {
            if (!long.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
                throw new ConfigurationException($"sources.pkp.institutions.{id}", "keys are PKP's numeric institution ids");
            institutions[number] = customer;
        }
        return new PkpLogFormat(parser, types.ToFrozenDictionary(), zone, options.Application, institutions.ToFrozenDictionary());
    }

    /// <summary>The name PKP gives the log it is still writing on <paramref name="day"/>.</summary>
    public static string CurrentLogName(DateOnly day) => $"usage_events_{day:yyyyMMdd}.log";

    /// <summary>One line as PKP writes it; ids are null when absent or JSON null.</summary>
    private struct Entry
    {
        public DateTime? Time;
        public string? Ip, UserAgent, Url, Country, Region, City;
        public long? AssocType, ContextId, SubmissionId, RepresentationId, SubmissionFileId, FileType, IssueId, IssueGalleyId, ChapterId, SeriesId;
        public long? FirstInstitution;
        public bool HasInstitutionIds;
    }

    public ParsedLine Parse(ReadOnlySpan<byte> line, string lineId, DateTime now)
    {
        if (line.TrimStart(" \t"u8).StartsWith("#"u8)) return ParsedLine.Skipped;
        var entry = new Entry();
        if (ReadJson(line, ref entry) is { } unreadable) return unreadable;
        if (Check(entry, out var kind) is { } invalid) return invalid;
        if (_types[kind] is not { } type) return ParsedLine.Skipped;
        var when = ToUtc(entry.Time!.Value);
        if (_parser.TimestampProblem(type, when, now) is { } timeProblem) return ParsedLine.Reject("time", timeProblem);
        return ToEvent(type, kind, entry, lineId, when);
    }

    private static ParsedLine? ReadJson(ReadOnlySpan<byte> line, ref Entry entry)
    {
        try
        {
            return Read(line, ref entry);
        }
        catch (JsonException e)
        {
            return ParsedLine.Reject("$", $"not valid JSON: {e.Message}");
        }
        catch (InvalidOperationException e)
        {
            return ParsedLine.Reject("$", $"not valid JSON text: {e.Message}");
        }
    }

    /// <summary>The checks PKP's UsageStatsLoader makes, in its order; <paramref name="kind"/> is what was visited.</summary>
    private static ParsedLine? Check(in Entry entry, out string kind)
    {
        kind = "";
        if (entry.Time is null) return ParsedLine.Reject("time", "is required, as yyyy-MM-dd HH:mm:ss");
        if (entry.ContextId is null) return ParsedLine.Reject("contextId", "is required and must be an integer");
        if (entry.AssocType is not { } assocType || !AssocTypes.TryGetValue((int)Math.Clamp(assocType, int.MinValue, int.MaxValue), out var visited))
            return ParsedLine.Reject("assocType", $"must be one of PKP's usage assoc types ({string.Join(", ", AssocTypes.Keys)})");
        kind = visited;
        if (entry.FileType is { } fileType && (fileType < 1 || fileType >= FileTypes.Length))
            return ParsedLine.Reject("fileType", "must be 1 (html), 2 (pdf), 3 (other) or 4 (doc)");
        if (entry.Country is { } country && (country.Length != 2 || !char.IsAsciiLetter(country[0]) || !char.IsAsciiLetter(country[1])))
            return ParsedLine.Reject("country", $"'{country}' is not a two-letter country code");
        if (entry.Region is { } region && (region.Length is 0 or > 3 || !region.All(char.IsAsciiLetterOrDigit)))
            return ParsedLine.Reject("region", $"'{region}' is not a region code of up to 3 letters or digits");
        if (!entry.HasInstitutionIds) return ParsedLine.Reject("institutionIds", "is required and must be an array of integers");
        if (RequiredId(kind, entry) is { } missing) return ParsedLine.Reject(missing, $"is required for assocType {assocType} ({kind})");
        return null;
    }

    /// <summary>The event of <paramref name="type"/> the line records, with the fields the type declares.</summary>
    private ParsedLine ToEvent(EventType type, string kind, in Entry entry, string lineId, DateTime when)
    {
        var values = new object?[type.Fields.Count];
        foreach (var (name, value) in FieldValues(kind, entry))
        {
            if (value is null || type.Field(name) is not { } field) continue;
            if (_parser.SetText(values, field, value) is { } problem) return ParsedLine.Reject(name, problem);
        }
        if (EventParser.MissingRequired(type, values) is { } required) return ParsedLine.Reject(required.Name, $"is required by event type '{type.Name}' and this line does not give it");
        return ParsedLine.Of(new TallyEvent(type, lineId, when, values, Extra(entry)));
    }

    /// <summary>Every field a PKP line can give, by Tally's name; null where this line does not give it.</summary>
    private (string Field, string? Value)[] FieldValues(string kind, in Entry entry)
    {
        var (item, title) = ItemAndTitle(kind, entry);
        var (dataType, parentDataType) = DataTypes(kind);
        var institution = entry.FirstInstitution is { } first ? _institutions.GetValueOrDefault(first) ?? $"pkp-institution-{first}" : null;
        return
        [
            (WellKnownFields.ItemId, item), (WellKnownFields.TitleId, title), (WellKnownFields.Url, entry.Url),
            (WellKnownFields.Ip, entry.Ip), (WellKnownFields.UserAgent, entry.UserAgent),
            (WellKnownFields.Country, entry.Country?.ToUpperInvariant()), (WellKnownFields.Region, Subdivision(entry.Country, entry.Region)), (WellKnownFields.City, entry.City),
            (WellKnownFields.Institution, institution), (WellKnownFields.Format, entry.FileType is { } f ? FileTypes[f] : null),
            ("data_type", dataType), ("parent_data_type", parentDataType),
        ];
    }

    /// <summary>What was visited, as an item id, and the title (journal, book) it belongs to.</summary>
    private (string Item, string? Title) ItemAndTitle(string kind, in Entry entry)
    {
        var context = $"context/{entry.ContextId}";
        return kind switch
        {
            "context" => (context, null),
            "series" => ($"series/{entry.SeriesId}", context),
            "issue" or "issueGalley" => ($"issue/{entry.IssueId}", context),
            "chapter" => ($"chapter/{entry.ChapterId}", $"submission/{entry.SubmissionId}"),
            _ => ($"submission/{entry.SubmissionId}", IsBookApplication ? $"submission/{entry.SubmissionId}" : context),
        };
    }

    /// <summary>COUNTER's Data_Type of what was visited and of its parent.</summary>
    private (string? DataType, string? ParentDataType) DataTypes(string kind) => kind switch
    {
        "chapter" => ("Book_Segment", "Book"),
        "submission" or "submissionFile" or "supplementaryFile" => IsBookApplication ? ("Book", null) : ("Article", _application == "ojs" ? "Journal" : null),
        _ => (null, null),
    };

    /// <summary>OMP publishes books; OJS and OPS publish articles.</summary>
    private bool IsBookApplication => _application == "omp";

    /// <summary>
    /// PKP logs the subdivision part of an ISO 3166-2 code ("BY"); the region field holds the whole code ("DE-BY"),
    /// as the geo step writes it and COUNTER's Subdivision_Code wants it.
    /// </summary>
    private static string? Subdivision(string? country, string? region) =>
        country is null || region is null ? region : $"{country}-{region}".ToUpperInvariant();

    /// <summary>PKP's own ids of what was downloaded, kept so per-file numbers can be had later.</summary>
    private static string? Extra(in Entry entry) => entry.SubmissionFileId is null && entry.IssueGalleyId is null
        ? null
        : string.Create(CultureInfo.InvariantCulture,
            $$"""{"submission_file_id":{{Json(entry.SubmissionFileId)}},"representation_id":{{Json(entry.RepresentationId)}},"issue_galley_id":{{Json(entry.IssueGalleyId)}}}""");

    private static string Json(long? value) => value?.ToString(CultureInfo.InvariantCulture) ?? "null";

    private static string? RequiredId(string kind, in Entry entry) => kind switch
    {
        "submission" when entry.SubmissionId is null => "submissionId",
        "submissionFile" or "supplementaryFile" when entry.SubmissionId is null => "submissionId",
        "submissionFile" or "supplementaryFile" when entry.SubmissionFileId is null => "submissionFileId",
        "issue" when entry.IssueId is null => "issueId",
        "issueGalley" when entry.IssueId is null => "issueId",
        "issueGalley" when entry.IssueGalleyId is null => "issueGalleyId",
        "chapter" when entry.SubmissionId is null => "submissionId",
        "chapter" when entry.ChapterId is null => "chapterId",
        "series" when entry.SeriesId is null => "seriesId",
        _ => null,
    };

    private DateTime ToUtc(DateTime local) =>
        _zone == TimeZoneInfo.Utc ? DateTime.SpecifyKind(local, DateTimeKind.Utc) : TimeZoneInfo.ConvertTimeToUtc(local, _zone);

    private static ParsedLine? Read(ReadOnlySpan<byte> line, ref Entry entry)
    {
        var reader = new Utf8JsonReader(line);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return ParsedLine.Reject("$", "a line must be one JSON object");
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader;
            reader.Read();
            ParsedLine? problem = null;
            if (name.ValueTextEquals("time"u8)) problem = ReadTime(ref reader, ref entry.Time);
            else if (name.ValueTextEquals("ip"u8)) problem = ReadText(ref reader, "ip", ref entry.Ip);
            else if (name.ValueTextEquals("userAgent"u8)) problem = ReadText(ref reader, "userAgent", ref entry.UserAgent);
            else if (name.ValueTextEquals("canonicalUrl"u8)) problem = ReadText(ref reader, "canonicalUrl", ref entry.Url);
            else if (name.ValueTextEquals("country"u8)) problem = ReadText(ref reader, "country", ref entry.Country);
            else if (name.ValueTextEquals("region"u8)) problem = ReadText(ref reader, "region", ref entry.Region);
            else if (name.ValueTextEquals("city"u8)) problem = ReadText(ref reader, "city", ref entry.City);
            else if (name.ValueTextEquals("assocType"u8)) problem = ReadId(ref reader, "assocType", ref entry.AssocType);
            else if (name.ValueTextEquals("contextId"u8)) problem = ReadId(ref reader, "contextId", ref entry.ContextId);
            else if (name.ValueTextEquals("submissionId"u8)) problem = ReadId(ref reader, "submissionId", ref entry.SubmissionId);
            else if (name.ValueTextEquals("representationId"u8)) problem = ReadId(ref reader, "representationId", ref entry.RepresentationId);
            else if (name.ValueTextEquals("submissionFileId"u8)) problem = ReadId(ref reader, "submissionFileId", ref entry.SubmissionFileId);
            else if (name.ValueTextEquals("fileType"u8)) problem = ReadId(ref reader, "fileType", ref entry.FileType);
            else if (name.ValueTextEquals("issueId"u8)) problem = ReadId(ref reader, "issueId", ref entry.IssueId);
            else if (name.ValueTextEquals("issueGalleyId"u8)) problem = ReadId(ref reader, "issueGalleyId", ref entry.IssueGalleyId);
            else if (name.ValueTextEquals("chapterId"u8)) problem = ReadId(ref reader, "chapterId", ref entry.ChapterId);
            else if (name.ValueTextEquals("seriesId"u8)) problem = ReadId(ref reader, "seriesId", ref entry.SeriesId);
            else if (name.ValueTextEquals("institutionIds"u8)) problem = ReadInstitutions(ref reader, ref entry);
            else reader.Skip();
            if (problem is not null) return problem;
        }
        if (reader.TokenType != JsonTokenType.EndObject || reader.Read()) return ParsedLine.Reject("$", "a line must be exactly one JSON object");
        return null;
    }

    private static ParsedLine? ReadTime(ref Utf8JsonReader reader, ref DateTime? time)
    {
        // PHP's date('Y-m-d H:i:s'): exactly 19 characters, no zone.
        var text = reader.TokenType == JsonTokenType.String && !reader.ValueIsEscaped ? reader.ValueSpan : default;
        if (text.Length == 19 && text[4] == '-' && text[7] == '-' && text[10] == ' ' && text[13] == ':' && text[16] == ':'
            && Number(text[..4], out var year) && Number(text[5..7], out var month) && Number(text[8..10], out var day)
            && Number(text[11..13], out var hour) && Number(text[14..16], out var minute) && Number(text[17..19], out var second)
            && month is >= 1 and <= 12 && day >= 1 && year >= 1 && day <= DateTime.DaysInMonth(year, month) && hour < 24 && minute < 60 && second < 60)
        {
            time = new DateTime(year, month, day, hour, minute, second, DateTimeKind.Unspecified);
            return null;
        }
        reader.Skip();
        return ParsedLine.Reject("time", "must be a date-time as yyyy-MM-dd HH:mm:ss");
    }

    private static bool Number(ReadOnlySpan<byte> digits, out int value) =>
        Utf8Parser.TryParse(digits, out value, out var consumed) && consumed == digits.Length && digits[0] is >= (byte)'0' and <= (byte)'9';

    private static ParsedLine? ReadText(ref Utf8JsonReader reader, string field, ref string? value)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.String:
                var text = reader.GetString();
                value = string.IsNullOrEmpty(text) ? null : text;
                return null;
            default:
                reader.Skip();
                return ParsedLine.Reject(field, "must be a string or null");
        }
    }

    private static ParsedLine? ReadId(ref Utf8JsonReader reader, string field, ref long? value)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.Number when reader.TryGetInt64(out var number):
                value = number;
                return null;
            default:
                reader.Skip();
                return ParsedLine.Reject(field, "must be an integer or null");
        }
    }

    private static ParsedLine? ReadInstitutions(ref Utf8JsonReader reader, ref Entry entry)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            reader.Skip();
            return ParsedLine.Reject("institutionIds", "must be an array of integers");
        }
        entry.HasInstitutionIds = true;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out var id))
            {
                reader.Skip();
                return ParsedLine.Reject("institutionIds", "must be an array of integers");
            }
            entry.FirstInstitution ??= id;
        }
        return null;
    }
}
