using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Tally.Core.Configuration;
using Tally.Core.Store;

namespace Tally.Core.Query;

/// <summary>Which answer of a registered query a saved query gives: one row per day or month, or totals per group.</summary>
public enum QueryView { Timeline, Totals }

/// <summary>
/// A named query a user saved (an "automated query"): a registered query, its parameters and how to chart it.
/// The chart is the dashboard's business: kept as the dashboard gave it, never judged here.
/// It is answered like the registered query, so its numbers are the API's; a relative range (days=N) moves with today.
/// </summary>
public sealed record SavedQuery(
    string Name, string Title, string Stat, QueryView View, IReadOnlyDictionary<string, IReadOnlyList<string>> Params, string Chart,
    DateTime Created, DateTime Updated);

/// <summary>What a client sends to create or replace a saved query.</summary>
public sealed record SavedQueryDraft(string? Title, string? Stat, string? View, IReadOnlyList<KeyValuePair<string, IReadOnlyList<string>>> Params, string? Chart);

/// <summary>A saved query is invalid; <see cref="Field"/> names what is wrong (such as "stat" or "params.interval").</summary>
public sealed class SavedQueryException(string field, string problem) : Exception($"'{field}' {problem}")
{
    public string Field { get; } = field;
    public string Problem { get; } = problem;
}

/// <summary>
/// The saved queries, one row each in the store, so every engine and every query node shares them. Writes
/// are compare-and-set: a save that another node's write overtook reads again and applies itself again.
/// </summary>
public sealed partial class SavedQueryCatalog(TallySchema schema, ISavedQueryStore store, ISettingStore settings, TimeProvider clock)
{
    /// <summary>Where stores made before saved queries had their own table kept them all, as one JSON array.</summary>
    public const string LegacySetting = "queries.saved";
    public const int MaxQueries = 1000;
    public const int MaxTitleLength = 200;
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) } };
    private volatile bool _legacyMoved;

    public async Task<IReadOnlyList<SavedQuery>> ListAsync(CancellationToken cancellationToken)
    {
        await MoveLegacySettingAsync(cancellationToken);
        return (await store.ListSavedQueriesAsync(cancellationToken)).Select(Read).ToList();
    }

    public async Task<SavedQuery?> GetAsync(string name, CancellationToken cancellationToken)
    {
        await MoveLegacySettingAsync(cancellationToken);
        return await store.GetSavedQueryAsync(name, cancellationToken) is { } stored ? Read(stored) : null;
    }

    /// <summary>Creates or replaces a saved query after checking it the way its registered query checks a request.</summary>
    /// <returns>The query as saved, and whether it is new.</returns>
    /// <exception cref="SavedQueryException">The name or the draft is invalid.</exception>
    public async Task<(SavedQuery Query, bool Created)> SaveAsync(string name, SavedQueryDraft draft, CancellationToken cancellationToken)
    {
        if (!ValidName().IsMatch(name))
            throw new SavedQueryException("name", "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit");
        var (stat, view, parameters, title) = Check(name, draft);
        await MoveLegacySettingAsync(cancellationToken);
        while (true)
        {
            var stored = await store.GetSavedQueryAsync(name, cancellationToken);
            if (stored is null && (await store.ListSavedQueriesAsync(cancellationToken)).Count >= MaxQueries)
                throw new SavedQueryException("name", $"cannot be added: {MaxQueries} queries are saved already; delete some first");
            var now = clock.GetUtcNow().UtcDateTime;
            var saved = new SavedQuery(name, title, stat.Name, view, parameters, draft.Chart ?? "", stored is null ? now : Read(stored).Created, now);
            if (await store.PutSavedQueryAsync(name, JsonSerializer.Serialize(saved, Json), stored?.Version ?? 0, cancellationToken))
                return (saved, stored is null);
        }
    }

    /// <returns>Whether there was such a query.</returns>
    public async Task<bool> DeleteAsync(string name, CancellationToken cancellationToken)
    {
        await MoveLegacySettingAsync(cancellationToken);
        while (true)
        {
            if (await store.GetSavedQueryAsync(name, cancellationToken) is not { } stored) return false;
            if (await store.DeleteSavedQueryAsync(name, stored.Version, cancellationToken)) return true;
        }
    }

    /// <summary>The saved parameters with those given now laid over them, name by name (a link may ask for days=7).</summary>
    public static IEnumerable<KeyValuePair<string, IReadOnlyList<string>>> Parameters(
        SavedQuery query, IEnumerable<KeyValuePair<string, IReadOnlyList<string>>> overrides)
    {
        var merged = query.Params.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        foreach (var (name, values) in overrides) merged[name] = values;
        // A date given now replaces a relative range saved, and the other way round.
        if (overrides.Any(o => o.Key is "dateStart" or "start_date")) merged.Remove("days");
        if (overrides.Any(o => o.Key == "days")) { merged.Remove("dateStart"); merged.Remove("start_date"); }
        return merged;
    }

    private (QueryDefinition Stat, QueryView View, Dictionary<string, IReadOnlyList<string>> Params, string Title) Check(string name, SavedQueryDraft draft)
    {
        if (string.IsNullOrEmpty(draft.Stat)) throw new SavedQueryException("stat", "is required: the name of a registered query (GET /api/v1/stats)");
        if (!schema.Queries.TryGetValue(draft.Stat, out var stat))
            throw new SavedQueryException("stat", $"'{draft.Stat}' is not a registered query: {string.Join(", ", schema.Queries.Keys)}");
        var view = draft.View switch
        {
            null => stat.Kind == QueryKind.Terms ? QueryView.Totals : QueryView.Timeline,
            "timeline" => QueryView.Timeline,
            "totals" => QueryView.Totals,
            _ => throw new SavedQueryException("view", "must be timeline or totals"),
        };
        var title = string.IsNullOrWhiteSpace(draft.Title) ? name : draft.Title.Trim();
        if (title.Length > MaxTitleLength) throw new SavedQueryException("title", $"must be at most {MaxTitleLength} characters");
        try
        {
            // Checked as a request today would be; a relative range stays valid as days pass.
            StatsRequest.Parse(draft.Params, stat.Aggregation, schema.Options, DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime));
        }
        catch (QueryParameterException e)
        {
            throw new SavedQueryException($"params.{e.Parameter}", e.Problem);
        }
        var parameters = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var (key, values) in draft.Params) parameters[key] = values;
        return (stat, view, parameters, title);
    }

    private static SavedQuery Read(StoredQuery stored) =>
        JsonSerializer.Deserialize<SavedQuery>(stored.Definition, Json) ?? throw new InvalidDataException($"Saved query '{stored.Name}' is stored as null.");

    /// <summary>
    /// Moves the queries of a store made before saved queries had their own table into it, once per process: a
    /// query the table already has under the same name stays as it is, and the setting goes only once all are in,
    /// so a move cut short, or run by several nodes at once, neither loses nor doubles one.
    /// </summary>
    private async Task MoveLegacySettingAsync(CancellationToken cancellationToken)
    {
        if (_legacyMoved) return;
        if (await settings.GetSettingAsync(LegacySetting, cancellationToken) is { } json)
        {
            foreach (var query in JsonSerializer.Deserialize<List<SavedQuery>>(json, Json) ?? [])
            {
                if (await store.GetSavedQueryAsync(query.Name, cancellationToken) is null)
                    await store.PutSavedQueryAsync(query.Name, JsonSerializer.Serialize(query, Json), 0, cancellationToken);
            }
            await settings.RemoveSettingAsync(LegacySetting, cancellationToken);
        }
        _legacyMoved = true;
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex ValidName();
}
