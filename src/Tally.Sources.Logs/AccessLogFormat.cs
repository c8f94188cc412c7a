using System.Buffers.Text;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Tally.Core.Accept;
using Tally.Core.Configuration;
using Tally.Core.Events;

namespace Tally.Sources.Logs;

/// <summary>A configured URL rule: requests whose target matches become events of <see cref="Type"/>.</summary>
public sealed record UrlRule(Regex Pattern, EventType Type, IReadOnlySet<string> Methods, (FieldDefinition Field, string Group)[] Captures, (FieldDefinition Field, string Value)[] Fixed);

/// <summary>
/// Apache and Nginx access logs in the combined (or common) format:
/// <c>host ident user [time] "request" status bytes "referer" "user-agent"</c>, or with the virtual
/// host first, as Apache's vhost_combined writes it (<c>www.example.org:443 host ident user [time] …</c>);
/// then the url is the absolute URL, so its host tells referrers on the site itself. Only successful
/// responses count, as COUNTER says (200 and 304); other statuses and requests no rule maps are
/// skipped, and lines that are not access-log lines are rejected.
/// </summary>
public sealed class AccessLogFormat(IReadOnlyList<UrlRule> rules, EventParser parser) : ILogFormat
{
    private static readonly string[] Months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

    public string Name => "combined";

    public IReadOnlyList<UrlRule> Rules => rules;

    /// <exception cref="ConfigurationException">A rule's pattern, type, group or fixed value does not fit the configured types.</exception>
    public static AccessLogFormat Create(TallySchema schema, EventParser parser)
    {
        var options = schema.Options.Sources.AccessLogRules;
        if (options.Count == 0)
            throw new ConfigurationException("sources.accessLogRules",
                """no URL rules are configured, so no request can be counted; add e.g. {"pattern": "^/records/(?<item_id>[^/?]+)", "type": "record-view"}""");
        var rules = new List<UrlRule>();
        for (var i = 0; i < options.Count; i++)
        {
            var o = options[i];
            var at = $"sources.accessLogRules[{i}]";
            var type = schema.EventTypes.GetValueOrDefault(o.Type) ?? throw new ConfigurationException($"{at}.type", $"'{o.Type}' is not a configured event type");
            Regex pattern;
            try { pattern = new Regex(o.Pattern, RegexOptions.CultureInvariant | RegexOptions.Compiled | RegexOptions.ExplicitCapture); }
            catch (ArgumentException e) { throw new ConfigurationException($"{at}.pattern", e.Message); }
            var captures = pattern.GetGroupNames().Where(g => !int.TryParse(g, out _)).Select(g =>
                (type.Field(g) ?? throw new ConfigurationException($"{at}.pattern", $"group '{g}' is not a field of '{type.Name}'"), g)).ToArray();
            var values = new object?[type.Fields.Count];
            var fixedValues = o.Set.Select(pair =>
            {
                var field = type.Field(pair.Key) ?? throw new ConfigurationException($"{at}.set.{pair.Key}", $"is not a field of '{type.Name}'");
                if (parser.SetText(values, field, pair.Value) is { } problem) throw new ConfigurationException($"{at}.set.{pair.Key}", problem);
                return (field, pair.Value);
            }).ToArray();
            if (o.Methods.Count == 0) throw new ConfigurationException($"{at}.methods", "lists at least one HTTP method");
            rules.Add(new UrlRule(pattern, type, o.Methods.Select(m => m.ToUpperInvariant()).ToHashSet(), captures, fixedValues));
        }
        return new AccessLogFormat(rules, parser);
    }

    public ParsedLine Parse(ReadOnlySpan<byte> line, string lineId, DateTime now)
    {
        var rest = line;
        if (!Token(ref rest, out var host) || !Token(ref rest, out var ident) || !Token(ref rest, out var user))
            return ParsedLine.Reject("$", "not an access-log line: expected host, ident and user before [time]");
        string? virtualHost = null;
        if (!rest.TrimStart((byte)' ').StartsWith("["u8))
        {
            virtualHost = Text(host);
            host = ident;
            if (!Token(ref rest, out user)) return ParsedLine.Reject("$", "not an access-log line: expected host, ident and user before [time]");
        }
        if (!Bracketed(ref rest, out var timeText) || !TryParseTime(timeText, out var when))
            return ParsedLine.Reject("time", "expected [dd/Mon/yyyy:HH:mm:ss +zzzz]");
        if (!Quoted(ref rest, out var request)) return ParsedLine.Reject("request", "expected a quoted request line");
        if (!Token(ref rest, out var statusText) || !Utf8Parser.TryParse(statusText, out int status, out var used) || used != statusText.Length || status is < 100 or > 999)
            return ParsedLine.Reject("status", "expected a three-digit HTTP status");
        if (!Token(ref rest, out var bytesText)) return ParsedLine.Reject("bytes", "expected the response size or '-'");
        string? referrer = null, userAgent = null;
        if (Quoted(ref rest, out var referrerText))
        {
            referrer = Text(referrerText);
            if (!Quoted(ref rest, out var agentText)) return ParsedLine.Reject("user_agent", "expected a quoted user agent after the referrer");
            userAgent = Text(agentText);
        }

        // COUNTER counts successful requests only: 200, and 304 (the client already had it).
        if (status is not (200 or 304)) return ParsedLine.Skipped;
        var requestText = Encoding.UTF8.GetString(request);
        var parts = requestText.Split(' ');
        if (parts.Length is < 2 or > 3) return ParsedLine.Skipped; // "-" or a garbled request from a scanner
        var (method, target) = (parts[0], parts[1]);
        var url = virtualHost is null || !target.StartsWith('/') ? target : AbsoluteUrl(virtualHost, target);

        foreach (var rule in rules)
        {
            if (!rule.Methods.Contains(method)) continue;
            var match = rule.Pattern.Match(target);
            if (!match.Success) continue;
            var type = rule.Type;
            if (parser.TimestampProblem(type, when, now) is { } timeProblem) return ParsedLine.Reject("time", timeProblem);
            var values = new object?[type.Fields.Count];
            foreach (var (field, value) in rule.Fixed) parser.SetText(values, field, value);
            foreach (var (field, group) in rule.Captures)
            {
                var captured = match.Groups[group];
                if (!captured.Success || captured.Length == 0) continue;
                if (parser.SetText(values, field, Uri.UnescapeDataString(captured.Value)) is { } problem) return ParsedLine.Reject(field.Name, problem);
            }
            (string Field, string? Value)[] logged =
            [
                (WellKnownFields.Ip, Text(host)), (WellKnownFields.UserAgent, userAgent), (WellKnownFields.Url, url), (WellKnownFields.Referrer, referrer),
                (WellKnownFields.UserId, user.SequenceEqual("-"u8) ? null : Text(user)),
            ];
            foreach (var (name, value) in logged)
            {
                if (Set(type, values, name, value) is { } problem) return ParsedLine.Reject(name, problem);
            }
            if (type.Field("size") is { Type: FieldType.Integer } size && Utf8Parser.TryParse(bytesText, out long length, out var consumed) && consumed == bytesText.Length)
                values[size.Ordinal] = length;
            if (EventParser.MissingRequired(type, values) is { } missing)
                return ParsedLine.Reject(missing.Name, $"is required by event type '{type.Name}'; the rule's pattern must capture it or set it");
            return ParsedLine.Of(new TallyEvent(type, lineId, when, values));
        }
        return ParsedLine.Skipped;
    }

    /// <summary>Only declared string fields are filled; "-" is how access logs write nothing.</summary>
    private string? Set(EventType type, object?[] values, string name, string? value) =>
        value is null or "-" || type.Field(name) is not { Type: FieldType.String } field || values[field.Ordinal] is not null
            ? null
            : parser.SetText(values, field, value);

    private static string Text(ReadOnlySpan<byte> bytes) => Encoding.UTF8.GetString(bytes);

    /// <summary>The request's URL from the virtual host ("name" or "name:port"): https on port 443, http otherwise.</summary>
    private static string AbsoluteUrl(string virtualHost, string target)
    {
        var colon = virtualHost.LastIndexOf(':');
        var port = colon > 0 && !virtualHost.EndsWith(']') ? virtualHost[(colon + 1)..] : "";
        var name = port.Length > 0 ? virtualHost[..colon] : virtualHost;
        return port switch
        {
            "443" => $"https://{name}{target}",
            "80" or "" => $"http://{name}{target}",
            _ => $"http://{name}:{port}{target}",
        };
    }

    private static bool Token(ref ReadOnlySpan<byte> rest, out ReadOnlySpan<byte> token)
    {
        rest = rest.TrimStart((byte)' ');
        var end = rest.IndexOf((byte)' ');
        token = end < 0 ? rest : rest[..end];
        rest = end < 0 ? default : rest[end..];
        return !token.IsEmpty;
    }

    private static bool Bracketed(ref ReadOnlySpan<byte> rest, out ReadOnlySpan<byte> inside)
    {
        rest = rest.TrimStart((byte)' ');
        inside = default;
        if (rest.IsEmpty || rest[0] != '[') return false;
        var end = rest.IndexOf((byte)']');
        if (end < 0) return false;
        inside = rest[1..end];
        rest = rest[(end + 1)..];
        return true;
    }

    /// <summary>A double-quoted field; Apache escapes '"' and '\' with a backslash and Nginx writes \xHH, so escapes are decoded.</summary>
    private static bool Quoted(ref ReadOnlySpan<byte> rest, out byte[] value)
    {
        rest = rest.TrimStart((byte)' ');
        value = [];
        if (rest.IsEmpty || rest[0] != '"') return false;
        var buffer = new List<byte>(rest.Length);
        for (var i = 1; i < rest.Length; i++)
        {
            var b = rest[i];
            if (b == '"')
            {
                value = [.. buffer];
                rest = rest[(i + 1)..];
                return true;
            }
            if (b == '\\' && i + 1 < rest.Length)
            {
                var next = rest[++i];
                if (next == 'x' && i + 2 < rest.Length && Utf8Parser.TryParse(rest.Slice(i + 1, 2), out byte hex, out var hexUsed, 'X') && hexUsed == 2)
                {
                    buffer.Add(hex);
                    i += 2;
                }
                else buffer.Add(next);
                continue;
            }
            buffer.Add(b);
        }
        return false;
    }

    /// <summary>10/Oct/2000:13:55:36 -0700.</summary>
    private static bool TryParseTime(ReadOnlySpan<byte> text, out DateTime utc)
    {
        utc = default;
        if (text.Length != 26 || text[2] != '/' || text[6] != '/' || text[11] != ':' || text[14] != ':' || text[17] != ':' || text[20] != ' ') return false;
        var month = Array.IndexOf(Months, Encoding.ASCII.GetString(text[3..6])) + 1;
        if (month == 0 || !Digits(text[..2], out var day) || !Digits(text[7..11], out var year) || !Digits(text[12..14], out var hour)
            || !Digits(text[15..17], out var minute) || !Digits(text[18..20], out var second) || !Digits(text[22..24], out var offsetHours)
            || !Digits(text[24..26], out var offsetMinutes) || text[21] is not ((byte)'+' or (byte)'-'))
            return false;
        if (year < 1 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 59 || offsetMinutes > 59) return false;
        var offset = new TimeSpan(offsetHours, offsetMinutes, 0) * (text[21] == '-' ? -1 : 1);
        utc = new DateTime(year, month, day, hour, minute, second, DateTimeKind.Utc) - offset;
        return true;
    }

    private static bool Digits(ReadOnlySpan<byte> text, out int value)
    {
        value = 0;
        foreach (var b in text)
        {
            if (b is < (byte)'0' or > (byte)'9') return false;
            value = value * 10 + (b - '0');
        }
        return true;
    }
}
