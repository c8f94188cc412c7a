using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Net.Http.Headers;

namespace Tally.Server.Dashboard;

/// <summary>
/// The dashboard at / : a single page whose views (overview, item, COUNTER, raw events, saved queries)
/// are routed in the browser, an embeddable chart page per saved query, and their assets. Everything
/// it shows comes from the public API, so the dashboard is a shell over the same numbers.
/// </summary>
public static class DashboardEndpoints
{
    /// <summary>Only this origin: the page works on loopback with no network, and nothing can be pulled from a CDN.</summary>
    private const string ContentSecurityPolicy =
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; connect-src 'self'; base-uri 'none'; object-src 'none'; form-action 'self'";

    private static readonly string[] Pages = ["/", "/items/{id}", "/counter", "/events", "/queries"];

    public static void MapDashboard(this IEndpointRouteBuilder app)
    {
        var files = DashboardFiles.Load();
        foreach (var page in Pages)
            app.MapGet(page, (HttpContext context) => Send(context, files.Find("index.html"), framing: "'self'")).ExcludeFromDescription();
        // Saved queries' charts are made to be embedded in other sites' pages.
        app.MapGet("/embed/{name}", (HttpContext context) => Send(context, files.Find("embed.html"), framing: "*")).ExcludeFromDescription();
        app.MapGet("/assets/{**path}", (HttpContext context, string path) => Send(context, files.Find(path), framing: "'self'")).ExcludeFromDescription();
    }

    private static IResult Send(HttpContext context, DashboardFile? file, string framing)
    {
        if (file is null) return Results.NotFound();
        var response = context.Response;
        var headers = response.Headers;
        headers.ContentSecurityPolicy = $"{ContentSecurityPolicy}; frame-ancestors {framing}";
        headers.XContentTypeOptions = "nosniff";
        // Revalidated on every load: a new build is picked up at once, and an unchanged file costs a 304.
        headers.CacheControl = "no-cache";
        var gzip = file.Gzipped is not null && context.Request.Headers.AcceptEncoding.ToString().Contains("gzip", StringComparison.OrdinalIgnoreCase);
        // Each encoding is its own representation, so it has its own tag.
        var etag = new EntityTagHeaderValue(gzip ? file.ETag.Insert(file.ETag.Length - 1, "-gz") : file.ETag);
        headers.ETag = etag.ToString();
        headers.Vary = HeaderNames.AcceptEncoding;
        if (EntityTagHeaderValue.TryParseList(context.Request.Headers.IfNoneMatch, out var tags) && tags.Any(t => t.Compare(etag, useStrongComparison: false) || t.Equals(EntityTagHeaderValue.Any)))
            return Results.StatusCode(StatusCodes.Status304NotModified);
        if (gzip) headers.ContentEncoding = "gzip";
        return Results.Bytes(gzip ? file.Gzipped! : file.Content, file.ContentType);
    }
}
