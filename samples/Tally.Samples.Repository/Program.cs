// A research-repository look-alike that reports usage to Tally with the tracker SDK:
// GET /records/{id} emits record-view, GET /records/{id}/files/{name} emits file-download.
// Where the events go (Tally, the log, daily files) is the "Tracking" section of appsettings.json.
using System.Globalization;
using System.Net;
using System.Text;
using Tally.Tracker;
using Tally.Tracker.AspNetCore;

var builder = WebApplication.CreateBuilder(args);
builder.Services.AddTallyTracking(builder.Configuration);

var app = builder.Build();
// Every event emitted during a request carries its ip, user agent, url and referrer (and user and session ids when there are some).
app.UseTallyTracking();

app.MapGet("/", () => Html("Sample Repository",
    $"""
    <p>Open a record or download a file: each view and download is reported to Tally.</p>
    <ul>
    {string.Concat(Catalog.Records.Select(r => $"""  <li><a href="/records/{r.Id}">{Encode(r.Title)}</a> <small>{r.DataType}, {r.Year}</small></li>{"\n"}"""))}</ul>
    """));

app.MapGet("/records/{id}", (string id, Tracker tracker) =>
{
    if (Catalog.Find(id) is not { } record) return Results.NotFound();
    tracker.Emit("record-view", new Dictionary<string, object?>
    {
        ["item_id"] = record.Id,
        ["item_name"] = record.Title,
        ["doi"] = record.Doi,
        ["data_type"] = record.DataType,
        ["access_type"] = "Open",
        ["yop"] = record.Year.ToString(CultureInfo.InvariantCulture),
    });
    return Html(record.Title,
        $"""
        <p><a href="/">All records</a></p>
        <p>{Encode(record.Authors)} ({record.Year}). {record.DataType}. DOI <a href="https://doi.org/{record.Doi}">{record.Doi}</a></p>
        <p>{Encode(record.Abstract)}</p>
        <h2>Files</h2>
        <ul>
        {string.Concat(record.Files.Select(f => $"""  <li><a href="/records/{record.Id}/files/{f.Name}">{f.Name}</a> <small>{f.Format}, {f.Size:N0} bytes</small></li>{"\n"}"""))}</ul>
        """);
});

app.MapGet("/records/{id}/files/{name}", (string id, string name, Tracker tracker) =>
{
    if (Catalog.Find(id) is not { } record || record.Files.FirstOrDefault(f => f.Name == name) is not { } file) return Results.NotFound();
    tracker.Emit("file-download", new Dictionary<string, object?>
    {
        ["item_id"] = record.Id,
        ["item_name"] = record.Title,
        ["doi"] = record.Doi,
        ["data_type"] = record.DataType,
        ["access_type"] = "Open",
        ["format"] = file.Format,
        ["size"] = file.Size,
    });
    return Results.File(file.Content(), file.ContentType, file.Name);
});

app.Run();

const string Style = "body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;line-height:1.5}small{color:#666}";

static IResult Html(string title, string body) => Results.Content(
    $"""
    <!doctype html>
    <html lang="en">
    <head><meta charset="utf-8"><title>{Encode(title)}</title><style>{Style}</style></head>
    <body>
    <h1>{Encode(title)}</h1>
    {body}
    </body>
    </html>
    """, "text/html; charset=utf-8");

static string Encode(string text) => WebUtility.HtmlEncode(text);

/// <summary>A record of the repository, with its files.</summary>
internal sealed record Record(string Id, string Title, string Authors, int Year, string Doi, string DataType, string Abstract, RecordFile[] Files);

/// <summary>A file of a record; its bytes are made up on the fly.</summary>
internal sealed record RecordFile(string Name, string Format, string ContentType, int Size)
{
    public byte[] Content()
    {
        var line = Encoding.UTF8.GetBytes($"Sample content of {Name}.\n");
        var bytes = new byte[Size];
        for (var i = 0; i < bytes.Length; i++) bytes[i] = line[i % line.Length];
        return bytes;
    }
}

internal static class Catalog
{
    public static readonly Record[] Records =
    [
        new("sample-0001", "Glacier Retreat in the Eastern Alps, 1990–2020", "Huber, A.; Moser, K.", 2023, "10.5555/sample.0001", "Dataset",
            "Annual terminus positions and surface elevations of 48 glaciers, derived from aerial imagery.",
            [new("terminus-positions.csv", "csv", "text/csv", 48_213), new("readme.txt", "txt", "text/plain", 2_048)]),
        new("sample-0002", "Soil Microbiome Responses to Drought", "Okafor, C.; Lindqvist, E.", 2024, "10.5555/sample.0002", "Article",
            "A field experiment on how bacterial communities in grassland soils recover after a summer drought.",
            [new("article.pdf", "pdf", "application/pdf", 731_904)]),
        new("sample-0003", "A Corpus of Early Modern Ship Logs", "Ferreira, M.", 2022, "10.5555/sample.0003", "Dataset",
            "Transcriptions of 312 ship logs (1650–1800) with weather observations, in TEI XML.",
            [new("ship-logs.zip", "zip", "application/zip", 1_250_000), new("codebook.pdf", "pdf", "application/pdf", 96_512)]),
    ];

    public static Record? Find(string id) => Array.Find(Records, r => r.Id == id);
}
