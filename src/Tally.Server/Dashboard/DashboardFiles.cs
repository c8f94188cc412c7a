using System.IO.Compression;
using System.Reflection;
using System.Security.Cryptography;
using Microsoft.AspNetCore.StaticFiles;

namespace Tally.Server.Dashboard;

/// <summary>One dashboard file, ready to send: its bytes, a gzip'd copy when that is smaller, and a content hash.</summary>
public sealed record DashboardFile(byte[] Content, byte[]? Gzipped, string ContentType, string ETag);

/// <summary>
/// The dashboard's HTML, scripts, styles and chart library, embedded in the binary at build time.
/// With a development folder set (TALLY_DASHBOARD_DIR), files there are read on every request and win
/// over the embedded ones, so front-end work needs a reload, not a rebuild.
/// </summary>
public sealed class DashboardFiles
{
    public const string DevelopmentFolderVariable = "TALLY_DASHBOARD_DIR";
    private const string ResourcePrefix = "dashboard/";
    private static readonly FileExtensionContentTypeProvider ContentTypes = new();
    private readonly Dictionary<string, DashboardFile> _embedded;
    private readonly string? _developmentFolder;

    private DashboardFiles(Dictionary<string, DashboardFile> embedded, string? developmentFolder)
    {
        _embedded = embedded;
        _developmentFolder = developmentFolder;
    }

    /// <summary>The embedded files, compressed once at start; plus the development folder when the variable names one.</summary>
    public static DashboardFiles Load()
    {
        var assembly = Assembly.GetExecutingAssembly();
        var embedded = new Dictionary<string, DashboardFile>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            embedded[name[ResourcePrefix.Length..]] = Describe(name, copy.ToArray(), compress: true);
        }
        var folder = Environment.GetEnvironmentVariable(DevelopmentFolderVariable);
        return new DashboardFiles(embedded, string.IsNullOrEmpty(folder) ? null : Path.GetFullPath(folder));
    }

    /// <summary>The file at a path relative to the dashboard root (such as "app.js" or "vendor/echarts.min.js"), or null.</summary>
    public DashboardFile? Find(string path)
    {
        if (path.Length == 0 || path.Contains('\\') || path.Split('/').Any(segment => segment is "" or "." or "..")) return null;
        if (_developmentFolder is not null)
        {
            var file = Path.Combine(_developmentFolder, path);
            if (File.Exists(file)) return Describe(file, File.ReadAllBytes(file), compress: false);
        }
        return _embedded.GetValueOrDefault(path);
    }

    private static DashboardFile Describe(string name, byte[] content, bool compress)
    {
        var contentType = ContentTypes.TryGetContentType(name, out var type) ? type : "application/octet-stream";
        if (contentType.StartsWith("text/", StringComparison.Ordinal) || contentType is "application/javascript" or "image/svg+xml")
            contentType += "; charset=utf-8";
        var etag = $"\"{Convert.ToHexStringLower(SHA256.HashData(content), 0, 12)}\"";
        return new DashboardFile(content, compress ? Gzip(content) : null, contentType, etag);
    }

    private static byte[]? Gzip(byte[] content)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.SmallestSize, leaveOpen: true)) gzip.Write(content);
        return output.Length < content.Length * 9 / 10 ? output.ToArray() : null;
    }
}
