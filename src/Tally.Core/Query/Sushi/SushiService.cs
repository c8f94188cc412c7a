using System.Globalization;
using System.Text.Json.Nodes;
using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Store;

namespace Tally.Core.Query.Sushi;

/// <summary>The COUNTER_SUSHI API 5.1: status, members, the report list and the reports, behind requestor authentication.</summary>
public sealed class SushiService(TallySchema schema, IMetricStore store, ISettingStore settings, ItemCatalog items, TimeProvider clock)
{
    private readonly SushiReportBuilder _builder = new(schema, store, settings, items, clock);

    private CounterOptions Counter => schema.Options.Counter;

    /// <summary>Reports this platform offers: DR and its views only when databases are configured.</summary>
    public IEnumerable<SushiReportDefinition> Supported =>
        SushiReportCatalog.All.Where(r => r.Level != ReportLevel.Database || schema.Databases.Count > 0);

    /// <summary>
    /// Checks requestor_id and api_key against the configured credentials, and that the requestor may see
    /// <paramref name="customerId"/> (when given). With no credentials configured the API is open.
    /// </summary>
    public void Authenticate(string? requestorId, string? apiKey, string? customerId)
    {
        if (Counter.Credentials.Count == 0) return;
        if (string.IsNullOrEmpty(apiKey)) throw new SushiException(SushiError.ApiKeyInvalid("api_key is required"));
        var credential = Counter.Credentials.FirstOrDefault(c => c.ApiKey == apiKey)
            ?? throw new SushiException(SushiError.ApiKeyInvalid("the api_key is not known"));
        if (credential.RequestorId != requestorId)
            throw new SushiException(SushiError.RequestorNotAuthorized($"requestor_id '{requestorId}' does not go with this api_key"));
        if (customerId is not null && credential.Customers.Count > 0 && !credential.Customers.Contains(customerId))
            throw new SushiException(SushiError.NotAuthorizedForInstitution($"requestor '{requestorId}' may not see customer_id '{customerId}'"));
    }

    /// <summary>What serve and check say loudly when COUNTER reports are open to anyone, or null.</summary>
    public string? OpenAccessWarning => Counter.Credentials.Count == 0
        ? "COUNTER reports under /r51 are open to anyone: counter.credentials is empty. Add requestor ids and API keys to restrict them."
        : null;

    public JsonArray Status()
    {
        var status = new JsonObject
        {
            ["Description"] = $"COUNTER R5.1 usage reports for {Counter.Platform}, served by Tally.",
            ["Service_Active"] = true,
        };
        if (Counter.RegistryRecord is { } registry) status["Registry_Record"] = registry;
        return [status];
    }

    /// <summary>The institutions a requestor may ask for, and "The World" when it may see everything.</summary>
    public JsonArray Members(string? apiKey)
    {
        var allowed = Counter.Credentials.FirstOrDefault(c => c.ApiKey == apiKey)?.Customers is { Count: > 0 } customers ? customers : null;
        var members = new JsonArray();
        if (allowed is null || allowed.Contains(Institution.TheWorld))
            members.Add(new JsonObject { ["Customer_ID"] = Institution.TheWorld, ["Institution_Name"] = "The World", ["Institution_ID"] = _builder.InstitutionIds(null) });
        foreach (var institution in schema.Institutions.Values.Where(i => allowed is null || allowed.Contains(i.CustomerId)))
            members.Add(new JsonObject { ["Customer_ID"] = institution.CustomerId, ["Institution_Name"] = institution.Name, ["Institution_ID"] = _builder.InstitutionIds(institution) });
        return members;
    }

    public async Task<JsonArray> ReportsAsync(CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var current = new DateOnly(now.Year, now.Month, 1);
        var (first, last) = await OpenMonths.CounterMonthsAsync(store, settings, cancellationToken) ?? (current, current);
        var list = new JsonArray();
        foreach (var report in Supported)
        {
            list.Add(new JsonObject
            {
                ["Report_Name"] = report.Name,
                ["Report_ID"] = report.Id,
                ["Release"] = "5.1",
                ["Report_Description"] = report.Description,
                ["Path"] = $"/r51/reports/{report.PathId}",
                ["First_Month_Available"] = first.ToString("yyyy-MM", CultureInfo.InvariantCulture),
                ["Last_Month_Available"] = last.ToString("yyyy-MM", CultureInfo.InvariantCulture),
            });
        }
        return list;
    }

    /// <summary>The request for report <paramref name="reportId"/> that <paramref name="query"/> makes; throws what SUSHI answers to a bad one.</summary>
    public SushiRequest Request(string reportId, IReadOnlyDictionary<string, string> query)
    {
        var report = Supported.FirstOrDefault(r => r.PathId == reportId)
            ?? throw new SushiException(SushiError.ReportNotSupported($"'{reportId}' is not one of {string.Join(", ", Supported.Select(r => r.PathId))}"));
        var window = QueryWindow.For(schema.Options, DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime));
        return SushiRequest.Parse(report, query, window, schema.Options.Limits.SushiMaxMonths);
    }

    /// <summary>Whether every month the request spans has ended, so that only a restatement or late events can change its report.</summary>
    public bool SpansClosedMonths(SushiRequest request)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        return request.EndMonth < new DateOnly(now.Year, now.Month, 1);
    }

    /// <summary>Writes the report as COUNTER_SUSHI JSON, streamed.</summary>
    public Task WriteReportAsync(SushiRequest request, Stream output, CancellationToken cancellationToken) =>
        _builder.WriteAsync(request, output, cancellationToken);

    /// <summary>The report as a tree of JSON nodes, which the tabular forms are written from.</summary>
    public Task<JsonObject> ReportAsync(SushiRequest request, CancellationToken cancellationToken) =>
        _builder.BuildAsync(request, cancellationToken);
}
