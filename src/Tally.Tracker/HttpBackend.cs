using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Tally.Tracker;

/// <summary>Where and how an <see cref="HttpBackend"/> sends.</summary>
public sealed record HttpBackendOptions
{
    /// <summary>Tally's address, e.g. http://127.0.0.1:5080; batches go to /api/v1/events under it.</summary>
    public required Uri Url { get; init; }

    /// <summary>A Tally key with the write role, sent as a bearer token.</summary>
    public string? ApiKey { get; init; }

    /// <summary>The folder batches wait in until Tally has them; one per process.</summary>
    public string SpoolDirectory { get; init; } = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "Tally.Tracker", "spool");

    /// <summary>Events per request.</summary>
    public int BatchSize { get; init; } = 500;

    /// <summary>How long an event may wait for its batch to fill before the batch is sent anyway.</summary>
    public TimeSpan FlushInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The first retry waits up to this long; each further one up to twice as long (with full jitter)...</summary>
    public TimeSpan MinRetryDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>...but never longer than this.</summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromMinutes(1);

    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Past this many bytes of waiting batches, the oldest are dropped (and counted).</summary>
    public long MaxSpoolBytes { get; init; } = 256L * 1024 * 1024;

    /// <summary>How long disposing keeps trying to deliver; what is left stays in the spool for the next start.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>
/// Sends events to Tally's ingest API in gzip'd NDJSON batches. Every event is written to an on-disk
/// spool first, and a batch leaves the spool only once Tally has answered for it, so neither a restart
/// of the application nor one of Tally loses events: whatever is waiting is sent at the next start.
/// Failures are retried with exponential backoff and full jitter (Retry-After is honoured). Retries are
/// safe because each event carries its id, and Tally stores an id once. A batch Tally refuses as a
/// whole (400, 413) is moved to the spool's rejected/ folder with the reason.
/// </summary>
public sealed class HttpBackend : ITrackerBackend, IAsyncDisposable
{
    private readonly HttpBackendOptions _options;
    private readonly string _name;
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly ILogger _logger;
    private readonly TimeProvider _clock;
    private readonly EventSpool _spool;
    private readonly Uri _endpoint;
    private readonly ArrayBufferWriter<byte> _line = new(1024);
    private readonly Utf8JsonWriter _writer;
    private readonly Lock _writeLock = new();
    private readonly SemaphoreSlim _wake = new(0);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _sender;
    private readonly DrainSignal _drained = new();
    private bool _unreachable;
    private int _failures;

    /// <exception cref="SpoolBusyException">Another process uses the spool folder.</exception>
    public HttpBackend(HttpBackendOptions options, string name = "tally", HttpClient? http = null, ILogger? logger = null, TimeProvider? clock = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BatchSize, 1);
        _options = options;
        _name = name;
        _ownsHttp = http is null;
        _http = http ?? new HttpClient { Timeout = options.RequestTimeout };
        _logger = logger ?? NullLogger.Instance;
        _clock = clock ?? TimeProvider.System;
        _endpoint = new Uri(options.Url, "api/v1/events");
        _writer = new Utf8JsonWriter(_line);
        _spool = new EventSpool(options.SpoolDirectory, options.MaxSpoolBytes);
        _sender = Task.Run(SendLoopAsync);
    }

    /// <summary>Events written to the spool and not yet taken by Tally.</summary>
    public int Pending => _spool.PendingLines;

    public void Send(TrackerEvent trackerEvent)
    {
        bool sealedBatch;
        int dropped;
        lock (_writeLock)
        {
            _line.ResetWrittenCount();
            _writer.Reset();
            TallyEventLine.Write(_writer, trackerEvent);
            _writer.Flush();
            _line.Write("\n"u8);
            sealedBatch = _spool.Append(_line.WrittenSpan, _options.BatchSize, _clock.GetUtcNow().UtcDateTime, out dropped);
        }
        CountDropped(dropped);
        if (sealedBatch) Wake();
    }

    /// <summary>Seals what is waiting into a batch and returns once Tally has every batch; waits as long as Tally is away, so pass a token.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        _spool.Seal(_clock.GetUtcNow().UtcDateTime, null, out var dropped);
        CountDropped(dropped);
        await _drained.WaitAsync(() => _spool.ReadyBatches == 0, Wake, cancellationToken);
    }

    private void Wake()
    {
        if (_wake.CurrentCount == 0) _wake.Release();
    }

    private void CountDropped(int dropped)
    {
        if (dropped == 0) return;
        TrackerMetrics.Dropped(_name, dropped);
        _logger.LogWarning("Tracker backend {Backend}: the spool passed {Limit} bytes, so its {Count} oldest events were dropped", _name, _options.MaxSpoolBytes, dropped);
    }

    private async Task SendLoopAsync()
    {
        var stopping = _stopping.Token;
        while (!stopping.IsCancellationRequested)
        {
            TimeSpan? retryAfter;
            try
            {
                retryAfter = await SendOldestAsync(stopping);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The spool's disk is full or unreadable: the batches stay, and the loop must live on to try again.
                _logger.LogError(e, "Tracker backend {Backend}: cannot use the spool {Spool}", _name, _options.SpoolDirectory);
                retryAfter = _options.MaxRetryDelay;
            }
            if (retryAfter is null) continue;
            try { await Task.Delay(retryAfter.Value, _clock, stopping); }
            catch (OperationCanceledException) { return; }
        }
    }

    /// <summary>One round: seals a segment that has waited long enough, then posts the oldest batch, or sleeps when there is none.</summary>
    private async Task<TimeSpan?> SendOldestAsync(CancellationToken stopping)
    {
        _spool.Seal(_clock.GetUtcNow().UtcDateTime, _options.FlushInterval, out var dropped);
        CountDropped(dropped);
        if (_spool.Oldest() is { } batch) return await PostAsync(batch, stopping);
        _drained.Drained();
        await _wake.WaitAsync(_options.FlushInterval, stopping);
        return null;
    }

    /// <summary>Posts one batch; null when it is settled (taken, or refused for good), else how long to wait before trying again.</summary>
    private async Task<TimeSpan?> PostAsync(SpooledBatch batch, CancellationToken cancellationToken)
    {
        byte[] body;
        try
        {
            body = await File.ReadAllBytesAsync(batch.Path, cancellationToken);
        }
        catch (FileNotFoundException)
        {
            // The size limit dropped it meanwhile (and counted it).
            return null;
        }
        using var request = new HttpRequestMessage(HttpMethod.Post, _endpoint) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");
        request.Content.Headers.ContentEncoding.Add("gzip");
        if (_options.ApiKey is { Length: > 0 } key) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);

        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, cancellationToken);
        }
        catch (Exception e) when (e is HttpRequestException || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested))
        {
            if (!_unreachable) _logger.LogWarning("Tracker backend {Backend}: Tally at {Url} is unreachable ({Reason}); events wait in {Spool} and are sent when it is back", _name, _options.Url, e.Message, _options.SpoolDirectory);
            _unreachable = true;
            return NextDelay(null);
        }
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                if (_unreachable) _logger.LogInformation("Tracker backend {Backend}: Tally at {Url} is back; sending the spool", _name, _options.Url);
                _unreachable = false;
                _failures = 0;
                ReportRejections(text);
                _spool.Remove(batch);
                return null;
            }
            if (response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.RequestEntityTooLarge)
            {
                var kept = _spool.Reject(batch, $"{(int)response.StatusCode} {response.ReasonPhrase}: {text}");
                TrackerMetrics.Failed(_name, batch.Lines);
                _logger.LogError("Tracker backend {Backend}: Tally refused a batch of {Count} events ({Status}: {Body}); it is kept in {Path}", _name, batch.Lines, (int)response.StatusCode, text, kept);
                return null;
            }
            // 401/403/404 need a person (a key, a URL), 408/429/5xx need time; either way the batch stays and is tried again.
            _logger.Log(response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden or HttpStatusCode.NotFound ? LogLevel.Error : LogLevel.Warning,
                "Tracker backend {Backend}: Tally answered {Status} for a batch of {Count} events; it stays in the spool and is tried again: {Body}", _name, (int)response.StatusCode, batch.Lines, text);
            return NextDelay(response.Headers.RetryAfter?.Delta);
        }

        TimeSpan NextDelay(TimeSpan? retryAfter)
        {
            if (retryAfter is { } told) return told < _options.MaxRetryDelay ? told : _options.MaxRetryDelay;
            return Backoff.Delay(++_failures, _options.MinRetryDelay, _options.MaxRetryDelay);
        }
    }

    /// <summary>Tally took the batch but refused some events (an unknown type, a bad field): those cannot succeed by retrying, so they are logged and counted.</summary>
    private void ReportRejections(string response)
    {
        try
        {
            using var document = JsonDocument.Parse(response);
            if (!document.RootElement.TryGetProperty("rejected", out var rejected) || rejected.GetArrayLength() == 0) return;
            TrackerMetrics.Failed(_name, rejected.GetArrayLength());
            foreach (var rejection in rejected.EnumerateArray().Take(5))
                _logger.LogWarning("Tracker backend {Backend}: Tally rejected an event: {Rejection}", _name, rejection.GetRawText());
        }
        catch (JsonException)
        {
            _logger.LogWarning("Tracker backend {Backend}: Tally's answer was not JSON: {Body}", _name, response);
        }
    }

    /// <summary>Keeps trying to deliver for <see cref="HttpBackendOptions.ShutdownTimeout"/>; what is left stays in the spool for the next start.</summary>
    public async ValueTask DisposeAsync()
    {
        using (var timeout = new CancellationTokenSource(_options.ShutdownTimeout))
        {
            try { await FlushAsync(timeout.Token); }
            catch (OperationCanceledException)
            {
                _logger.LogWarning("Tracker backend {Backend}: {Count} events are still waiting for Tally; they stay in {Spool} and are sent at the next start", _name, _spool.PendingLines, _options.SpoolDirectory);
            }
        }
        await _stopping.CancelAsync();
        await _sender;
        _spool.Dispose();
        _writer.Dispose();
        _wake.Dispose();
        _stopping.Dispose();
        if (_ownsHttp) _http.Dispose();
    }
}
