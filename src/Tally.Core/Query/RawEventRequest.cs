using System.Globalization;
using Tally.Core.Accept;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Store;

namespace Tally.Core.Query;

/// <summary>
/// The raw events API's parameters, datagrepper style: start/end/delta, type, field filters and their
/// not_ forms, robot, page, rows_per_page and order. Times lie in the <see cref="QueryWindow"/> and a window
/// spans at most limits.rawMaxDays, so a page never makes a store scan years of partitions. The export
/// takes the same parameters but for the paging ones.
/// </summary>
public static class RawEventRequest
{
    public const int MaxRowsPerPage = 100;
    public const int DefaultDeltaSeconds = 600;
    /// <summary>How many events an export reads from the store at a time: what bounds its memory.</summary>
    public const int ExportBatchRows = 1000;

    /// <summary>The query, and the arguments as understood (echoed in the answer, as datagrepper does).</summary>
    /// <exception cref="QueryParameterException">A parameter is wrong; it is named.</exception>
    public static (RawEventQuery Query, Dictionary<string, object?> Arguments) Parse(
        IEnumerable<KeyValuePair<string, IReadOnlyList<string>>> parameters, TallySchema schema, DateTime now) =>
        Parse(parameters, schema, now, paged: true);

    /// <summary>An export's query: every event the raw API's pages would list for the same parameters, read <see cref="ExportBatchRows"/> at a time.</summary>
    /// <exception cref="QueryParameterException">A parameter is wrong, or is page or rows_per_page; it is named.</exception>
    public static RawEventQuery ParseExport(IEnumerable<KeyValuePair<string, IReadOnlyList<string>>> parameters, TallySchema schema, DateTime now) =>
        Parse(parameters, schema, now, paged: false).Query with { RowsPerPage = ExportBatchRows };

    private static (RawEventQuery Query, Dictionary<string, object?> Arguments) Parse(
        IEnumerable<KeyValuePair<string, IReadOnlyList<string>>> parameters, TallySchema schema, DateTime now, bool paged)
    {
        var window = QueryWindow.For(schema.Options, DateOnly.FromDateTime(now));
        DateTime? start = null, end = null;
        int? delta = null;
        int page = 1, rows = 25;
        var descending = true;
        bool? robot = null;
        var types = new List<EventType>();
        var filters = new List<FieldFilter>();
        var knownFields = schema.EventTypes.Values.SelectMany(t => t.Fields).Select(f => f.Name).ToHashSet();
        var maxSeconds = schema.Options.Limits.RawMaxDays * 86_400;
        foreach (var (name, values) in parameters)
        {
            var value = values.Count > 0 ? values[^1] : "";
            switch (name)
            {
                case "page" or "rows_per_page" when !paged:
                    throw new QueryParameterException(name, "does not apply to an export, which gives every matching event; leave it out");
                case "start": start = ParseTime(name, value, window); break;
                case "end": end = ParseTime(name, value, window); break;
                case "delta": delta = ParseInt(name, value, 1, maxSeconds); break;
                case "page": page = ParseInt(name, value, 1, int.MaxValue / MaxRowsPerPage); break;
                case "rows_per_page": rows = ParseInt(name, value, 1, MaxRowsPerPage); break;
                case "order": descending = ParseEither(name, value, "desc", "asc", "must be asc or desc"); break;
                case "robot": robot = ParseEither(name, value, "true", "false", "must be true (only robots) or false (no robots); leave it out for both"); break;
                case "type":
                    foreach (var typeName in values)
                    {
                        types.Add(schema.EventTypes.GetValueOrDefault(typeName)
                            ?? throw new QueryParameterException(name, $"'{StoredText.Echo(typeName)}' is not a known event type"));
                    }
                    break;
                default:
                    var negated = name.StartsWith("not_", StringComparison.Ordinal) && !knownFields.Contains(name);
                    var field = negated ? name[4..] : name;
                    if (!knownFields.Contains(field))
                        throw new QueryParameterException(name, "is neither a parameter nor a field of any event type");
                    filters.Add(new FieldFilter(field, values, negated));
                    break;
            }
        }
        // datagrepper's rules: delta counts back from end (or now), or forward from start.
        var to = end ?? (start is not null && delta is not null ? start.Value.AddSeconds(delta.Value) : now);
        var from = start ?? to.AddSeconds(-(delta ?? DefaultDeltaSeconds));
        if (from > to) throw new QueryParameterException("start", "is after end");
        if ((to - from).TotalSeconds > maxSeconds)
            throw new QueryParameterException(start is null ? "delta" : "start",
                $"asks for {(to - from).TotalDays:0.#} days; at most {schema.Options.Limits.RawMaxDays} may be asked at once (limits.rawMaxDays)");
        var selected = types.Count > 0 ? types : schema.EventTypes.Values.ToList();
        var arguments = new Dictionary<string, object?>
        {
            ["start"] = from,
            ["end"] = to,
            ["delta"] = delta,
            ["page"] = page,
            ["rows_per_page"] = rows,
            ["order"] = descending ? "desc" : "asc",
            ["type"] = types.Select(t => t.Name).ToList(),
            ["robot"] = robot,
        };
        foreach (var filter in filters) arguments[(filter.Negated ? "not_" : "") + filter.Field] = filter.Values;
        return (new RawEventQuery(from, to, selected, filters, page, rows, descending, robot), arguments);
    }

    /// <summary>ISO-8601, or seconds since the epoch as datagrepper takes them; either inside the window.</summary>
    private static DateTime ParseTime(string name, string value, QueryWindow window)
    {
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds))
        {
            // Compared as seconds first: NaN, infinities and 1e300 never reach date arithmetic.
            if (!(seconds >= (window.Start - DateTime.UnixEpoch).TotalSeconds && seconds <= (window.End - DateTime.UnixEpoch).TotalSeconds))
                throw window.Outside(name);
            return DateTime.UnixEpoch.AddSeconds(seconds);
        }
        if (DateTime.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var time))
            return window.Check(name, time);
        throw new QueryParameterException(name, $"must be an ISO-8601 time or seconds since 1970, not '{StoredText.Echo(value)}'");
    }

    /// <summary>True for <paramref name="yes"/>, false for <paramref name="no"/>.</summary>
    private static bool ParseEither(string name, string value, string yes, string no, string problem) =>
        value == yes ? true : value == no ? false : throw new QueryParameterException(name, problem);

    private static int ParseInt(string name, string value, int min, int max) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
            ? n
            : throw new QueryParameterException(name, $"must be a whole number from {min} to {max}");
}
