using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Tally.Core.Accept;
using Tally.Core.Configuration;

namespace Tally.Server.Api;

/// <summary>A body that cannot be read as sent; <see cref="ClientErrorHandler"/> answers it as a problem naming <see cref="Field"/>.</summary>
public sealed class BodyProblemException(int status, string field, string problem) : Exception(problem)
{
    public int Status { get; } = status;
    public string Field { get; } = field;
}

/// <summary>
/// How every endpoint reads a body: bounded in bytes before and after decompression, gzip checked to its
/// trailer (so a body cut short is an error, never a shorter batch), and any other encoding refused.
/// </summary>
public static class RequestBody
{
    private const int ChunkSize = 16 * 1024;

    /// <exception cref="BodyProblemException">415 for an unknown encoding, 413 past <paramref name="limit"/>, 400 for broken framing or gzip.</exception>
    public static async Task<ReadOnlyMemory<byte>> ReadAsync(HttpRequest request, int limit, string limitSetting, CancellationToken cancellationToken)
    {
        var encoding = request.Headers.ContentEncoding.ToString().Trim();
        var gzip = encoding.Equals("gzip", StringComparison.OrdinalIgnoreCase) || encoding.Equals("x-gzip", StringComparison.OrdinalIgnoreCase);
        if (!gzip && encoding.Length > 0 && !encoding.Equals("identity", StringComparison.OrdinalIgnoreCase))
            throw new BodyProblemException(StatusCodes.Status415UnsupportedMediaType, "Content-Encoding",
                $"'{StoredText.Echo(encoding)}' is not supported; send the body plain or gzip-compressed");
        if (request.ContentLength > limit) throw TooLarge(limit, limitSetting);
        var raw = await ReadBoundedAsync(request.Body, limit, limitSetting, cancellationToken);
        return gzip ? Gunzip(raw, limit, limitSetting) : raw;
    }

    /// <summary>Reads a JSON body (stats, items, saved queries): valid UTF-8, valid JSON, and every string storable.</summary>
    /// <exception cref="BodyProblemException">The body breaks one of those rules; the problem names where.</exception>
    public static async Task<JsonDocument> ReadJsonAsync(HttpRequest request, TallyOptions options, CancellationToken cancellationToken)
    {
        var body = await ReadAsync(request, options.Limits.MaxJsonBodyBytes, "limits.maxJsonBodyBytes", cancellationToken);
        if (StoredText.InvalidUtf8At(body.Span) is >= 0 and var at)
            throw new BodyProblemException(StatusCodes.Status400BadRequest, "body", $"is not valid UTF-8 (at byte {at + 1})");
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException e)
        {
            throw new BodyProblemException(StatusCodes.Status400BadRequest, "body", EventParser.MalformedJson(e));
        }
        if (StoredText.FindInvalid(document.RootElement, options.Ingest.MaxValueLength) is { } invalid)
        {
            document.Dispose();
            throw new BodyProblemException(StatusCodes.Status400BadRequest, invalid.Path, invalid.Problem);
        }
        return document;
    }

    private static BodyProblemException TooLarge(int limit, string setting) =>
        new(StatusCodes.Status413PayloadTooLarge, "body", $"exceeds the limit of {limit} bytes ({setting}); send smaller requests");

    private static async Task<ReadOnlyMemory<byte>> ReadBoundedAsync(Stream source, int limit, string limitSetting, CancellationToken cancellationToken)
    {
        var buffer = new ArrayBufferWriter<byte>(ChunkSize);
        try
        {
            while (true)
            {
                var read = await source.ReadAsync(buffer.GetMemory(ChunkSize), cancellationToken);
                if (read == 0) return buffer.WrittenMemory;
                buffer.Advance(read);
                if (buffer.WrittenCount > limit) throw TooLarge(limit, limitSetting);
            }
        }
        catch (BadHttpRequestException e)
        {
            // Kestrel's own verdict on the framing (a bad chunk, a body shorter than its Content-Length).
            throw new BodyProblemException(e.StatusCode, "body", "could not be read: its chunked framing or Content-Length is broken");
        }
    }

    /// <summary>
    /// Decompresses and checks the last member's trailer (CRC-32 and length). .NET's GZipStream ends quietly
    /// at a cut, so without this check a truncated upload would be taken as a shorter one.
    /// </summary>
    private static ReadOnlyMemory<byte> Gunzip(ReadOnlyMemory<byte> compressed, int limit, string limitSetting)
    {
        const string Broken = "is not complete, valid gzip: it is cut short or corrupt (Content-Encoding: gzip)";
        var bytes = compressed.Span;
        if (bytes.Length < 18 || bytes[0] != 0x1f || bytes[1] != 0x8b) throw new BodyProblemException(StatusCodes.Status400BadRequest, "body", Broken);
        var output = new ArrayBufferWriter<byte>(ChunkSize);
        try
        {
            // The bytes come from an ArrayBufferWriter, so they are an array segment that a MemoryStream can wrap.
            if (!MemoryMarshal.TryGetArray(compressed, out var segment)) throw new ArgumentException("expected array-backed memory", nameof(compressed));
            using var gzip = new GZipStream(new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false), CompressionMode.Decompress);
            while (true)
            {
                var read = gzip.Read(output.GetSpan(ChunkSize));
                if (read == 0) break;
                output.Advance(read);
                if (output.WrittenCount > limit) throw TooLarge(limit, limitSetting);
            }
        }
        catch (InvalidDataException)
        {
            throw new BodyProblemException(StatusCodes.Status400BadRequest, "body", Broken);
        }
        var crc = BinaryPrimitives.ReadUInt32LittleEndian(bytes[^8..]);
        var length = BinaryPrimitives.ReadUInt32LittleEndian(bytes[^4..]);
        var written = output.WrittenSpan;
        if (length > (uint)written.Length || Crc32.HashToUInt32(written[^(int)length..]) != crc)
            throw new BodyProblemException(StatusCodes.Status400BadRequest, "body", Broken);
        return output.WrittenMemory;
    }
}
