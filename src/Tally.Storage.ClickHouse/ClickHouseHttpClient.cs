using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Text;

namespace Tally.Storage.ClickHouse;

/// <summary>
/// A small client for ClickHouse's HTTP interface, enough for Tally and no more: statements,
/// results streamed row by row as TabSeparated, and inserts streamed as gzip-compressed RowBinary.
/// Settings (the database among them) go in the URL of every request. ClickHouse 18.16 has no query
/// parameters, so values are written into statements with <see cref="ClickHouseSql"/>.
/// </summary>
public sealed class ClickHouseHttpClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly string _settings;

    /// <param name="endpoint">The server's HTTP root, such as http://127.0.0.1:8123/.</param>
    /// <param name="settings">ClickHouse settings sent with every request, such as database or insert_distributed_sync.</param>
    public ClickHouseHttpClient(Uri endpoint, IEnumerable<KeyValuePair<string, string>>? settings = null, string? user = null, string? password = null)
    {
        Endpoint = endpoint;
        _settings = string.Join('&', (settings ?? []).Select(s => $"{Uri.EscapeDataString(s.Key)}={Uri.EscapeDataString(s.Value)}"));
        _http = new HttpClient(new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(10),
            // ClickHouse closes idle keep-alive connections after keep_alive_timeout (3 s by default);
            // reusing one it already closed would fail a request, so idle connections are dropped first.
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(2),
            AutomaticDecompression = DecompressionMethods.GZip,
        })
        {
            BaseAddress = endpoint,
            // Scans and DDL can take long; callers bound them with cancellation tokens.
            Timeout = Timeout.InfiniteTimeSpan,
        };
        if (user is not null)
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
    }

    public Uri Endpoint { get; }

    /// <summary>Runs a statement that returns nothing (DDL, ALTER, INSERT ... SELECT).</summary>
    public Task ExecuteAsync(string sql, CancellationToken cancellationToken) => ExecuteAsync(sql, null, cancellationToken);

    /// <summary>Runs a statement that returns nothing and may read <paramref name="external"/> as a temporary table.</summary>
    public async Task ExecuteAsync(string sql, ClickHouseExternalTable? external, CancellationToken cancellationToken)
    {
        using var response = await SendStatementAsync(sql, external, cancellationToken);
    }

    /// <summary>
    /// Runs a query and streams its rows as TabSeparated (the format is appended to <paramref name="sql"/>).
    /// Each <see cref="ClickHouseRow"/> is valid until the next one is read.
    /// </summary>
    public IAsyncEnumerable<ClickHouseRow> QueryAsync(string sql, CancellationToken cancellationToken) => QueryAsync(sql, null, cancellationToken);

    /// <summary>Runs a query that may read <paramref name="external"/> as a temporary table, and streams its rows as <see cref="QueryAsync(string, CancellationToken)"/> does.</summary>
    public async IAsyncEnumerable<ClickHouseRow> QueryAsync(string sql, ClickHouseExternalTable? external, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var statement = $"{sql} FORMAT TabSeparated";
        using var response = await SendStatementAsync(statement, external, cancellationToken);
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        await foreach (var row in ClickHouseRow.ReadAsync(stream, body => ClickHouseException.FromServer(Endpoint, statement, body),
            problem => ClickHouseException.BadResponse(Endpoint, statement, problem), cancellationToken))
            yield return row;
    }

    private async Task<HttpResponseMessage> SendStatementAsync(string statement, ClickHouseExternalTable? external, CancellationToken cancellationToken) =>
        external is null
            ? await SendAsync("", new StringContent(statement, Encoding.UTF8), statement, cancellationToken)
            // With external data the body is a form: the statement goes in the URL, the table's rows in a part named after it.
            : await SendAsync($"&query={Uri.EscapeDataString(statement)}&{external.Name}_structure={Uri.EscapeDataString(external.Structure)}&{external.Name}_format=RowBinary",
                new MultipartFormDataContent { { await external.ToContentAsync(cancellationToken), external.Name, external.Name } }, statement, cancellationToken);

    /// <summary>The rows of a small result, each converted by <paramref name="read"/> before the next is read.</summary>
    public Task<List<T>> QueryListAsync<T>(string sql, Func<ClickHouseRow, T> read, CancellationToken cancellationToken) =>
        QueryListAsync(sql, null, read, cancellationToken);

    /// <summary>As <see cref="QueryListAsync{T}(string, Func{ClickHouseRow, T}, CancellationToken)"/>, with a temporary table the query may read.</summary>
    public async Task<List<T>> QueryListAsync<T>(string sql, ClickHouseExternalTable? external, Func<ClickHouseRow, T> read, CancellationToken cancellationToken)
    {
        var rows = new List<T>();
        await foreach (var row in QueryAsync(sql, external, cancellationToken)) rows.Add(read(row));
        return rows;
    }

    /// <summary>
    /// Inserts <paramref name="rows"/>, each written as RowBinary by <paramref name="writeRow"/> in the order of
    /// <paramref name="columns"/>. The body streams to the server gzip-compressed as it is written; nothing is buffered whole.
    /// An empty collection sends nothing.
    /// </summary>
    public Task InsertAsync<T>(string table, IReadOnlyList<string> columns, IEnumerable<T> rows, Action<RowBinaryWriter, T> writeRow, CancellationToken cancellationToken) =>
        rows.TryGetNonEnumeratedCount(out var count) && count == 0 ? Task.CompletedTask : InsertRawAsync(table, columns, async (stream, token) =>
        {
            var writer = new RowBinaryWriter(stream);
            foreach (var row in rows)
            {
                writeRow(writer, row);
                await writer.FlushIfFullAsync(token);
            }
            await writer.FlushAsync(token);
        }, cancellationToken);

    /// <summary>Inserts RowBinary that <paramref name="writeBody"/> copies into the (compressing) request stream, such as rows spooled earlier.</summary>
    public async Task InsertRawAsync(string table, IReadOnlyList<string> columns, Func<Stream, CancellationToken, Task> writeBody, CancellationToken cancellationToken)
    {
        var statement = $"INSERT INTO {table} ({string.Join(", ", columns)}) FORMAT RowBinary";
        var content = new GzipBody(writeBody);
        try
        {
            using var response = await SendAsync($"&query={Uri.EscapeDataString(statement)}", content, statement, cancellationToken);
        }
        catch (ClickHouseException) when (content.Failure is not null)
        {
            // The body writer failed (or was cancelled) and the request with it: that is the cause to report.
            content.Failure.Throw();
        }
    }

    /// <summary>Posts <paramref name="body"/> with the settings and <paramref name="parameters"/> (escaped, each starting with '&amp;') in the URL.</summary>
    private async Task<HttpResponseMessage> SendAsync(string parameters, HttpContent body, string statement, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"?{_settings}{parameters}") { Content = body };
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw ClickHouseException.Unreachable(Endpoint, statement, e);
        }
        if (response.IsSuccessStatusCode) return response;
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            throw ClickHouseException.FromServer(Endpoint, statement, text, (int)response.StatusCode);
        }
    }

    public void Dispose() => _http.Dispose();

    /// <summary>A request body written on demand through gzip; remembers a failure of the writer, which HttpClient would otherwise wrap.</summary>
    private sealed class GzipBody : HttpContent
    {
        private readonly Func<Stream, CancellationToken, Task> _write;

        public GzipBody(Func<Stream, CancellationToken, Task> write)
        {
            _write = write;
            Headers.ContentEncoding.Add("gzip");
            Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        }

        public ExceptionDispatchInfo? Failure { get; private set; }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            try
            {
                await using var gzip = new GZipStream(stream, CompressionLevel.Fastest, leaveOpen: true);
                await _write(gzip, cancellationToken);
            }
            catch (Exception e) when (e is not IOException)
            {
                Failure = ExceptionDispatchInfo.Capture(e);
                throw;
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}

/// <summary>
/// Rows sent along with a query as a temporary table, such as a long list of keys for IN: ClickHouse
/// reads them as data, several times faster than it parses the same list written as literals.
/// </summary>
/// <param name="Name">The table's name in the query.</param>
/// <param name="Structure">Its columns, as in "id String".</param>
/// <param name="WriteRows">Writes every row, as RowBinary.</param>
public sealed record ClickHouseExternalTable(string Name, string Structure, Action<RowBinaryWriter> WriteRows)
{
    /// <summary>
    /// The rows as a form part of known length: 18.16 misreads a chunked multipart body, leaving its
    /// connection unusable for the next request.
    /// </summary>
    internal async Task<HttpContent> ToContentAsync(CancellationToken cancellationToken)
    {
        using var rows = new MemoryStream();
        var writer = new RowBinaryWriter(rows);
        WriteRows(writer);
        await writer.FlushAsync(cancellationToken);
        return new ByteArrayContent(rows.ToArray());
    }
}
