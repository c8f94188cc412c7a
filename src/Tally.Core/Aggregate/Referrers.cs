using System.Text.RegularExpressions;
using Tally.Core.Configuration;

namespace Tally.Core.Aggregate;

/// <summary>
/// How referrers are counted. A referring page is one key whatever its scheme, "www." or trailing slash:
/// its host without "www." and its path, without query or fragment, as Plausible does
/// (<c>https://www.example.com/a/?q=1</c> is <c>example.com/a</c>). A referrer on the site itself is
/// internal navigation, not a referral, and has no key: its host is one of referrers.ownHosts, or the
/// host of the event's own page (an absolute <c>url</c>, as trackers, PKP and virtual-host access logs give).
/// </summary>
/// <remarks>Applied when metrics are computed: raw events keep the referrer as sent, and a rebuild applies a changed setting to the past.</remarks>
public sealed partial class Referrers
{
    /// <summary>
    /// What of a page's url tells its host: the scheme and authority of an absolute url. Engines extract it with
    /// this pattern and look keys up by it, so that they need not parse urls as .NET does.
    /// </summary>
    public const string PageAuthorityPattern = "^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*";

    private readonly HashSet<string> _hosts = new(StringComparer.Ordinal);
    private readonly List<string> _domains = [];

    /// <param name="ownHosts">Host names of the site, "www." or not; "*.example.org" covers example.org and every subdomain of it.</param>
    /// <exception cref="ConfigurationException">An entry is not a host name.</exception>
    public Referrers(IReadOnlyList<string> ownHosts)
    {
        for (var i = 0; i < ownHosts.Count; i++)
        {
            var entry = ownHosts[i]?.Trim() ?? "";
            var wildcard = entry.StartsWith("*.", StringComparison.Ordinal);
            var host = wildcard ? entry[2..] : entry;
            var kind = Uri.CheckHostName(host);
            if (kind == UriHostNameType.Unknown)
                throw new ConfigurationException($"referrers.ownHosts[{i}]",
                    $"'{entry}' is not a host name; write the host alone, such as example.org (www. is implied), or *.example.org for it and its subdomains");
            // URLs write IPv6 hosts in brackets.
            if (kind == UriHostNameType.IPv6 && !host.StartsWith('[')) host = $"[{host}]";
            if (wildcard) _domains.Add("." + HostKey(host));
            else _hosts.Add(HostKey(host));
        }
    }

    /// <summary>The referrer's key, or null when there is none or it is a page of the site itself.</summary>
    public string? Key(string? referrer, string? pageUrl)
    {
        if (string.IsNullOrWhiteSpace(referrer)) return null;
        if (WebAddress(referrer) is not { } uri) return referrer.Trim();
        var host = HostKey(uri.Host);
        if (_hosts.Contains(host) || _domains.Any(d => host.EndsWith(d, StringComparison.Ordinal) || host == d[1..])) return null;
        if (PageAuthority(pageUrl) is { } authority && WebAddress(authority) is { } page && HostKey(page.Host) == host) return null;
        return KeyOf(uri, host);
    }

    /// <summary>The scheme and authority of an absolute page url (<see cref="PageAuthorityPattern"/>), or null.</summary>
    public static string? PageAuthority(string? pageUrl) =>
        pageUrl is null ? null : AuthorityRegex().Match(pageUrl) is { Success: true } match ? match.Value : null;

    [GeneratedRegex(PageAuthorityPattern, RegexOptions.CultureInvariant)]
    private static partial Regex AuthorityRegex();

    /// <summary>The key of a referrer as a filter value names it: a URL becomes its key, a key stays as it is.</summary>
    public static string Normalize(string referrer) =>
        WebAddress(referrer) is { } uri ? KeyOf(uri, HostKey(uri.Host)) : referrer.Trim();

    private static string KeyOf(Uri uri, string host)
    {
        var port = uri.IsDefaultPort ? "" : $":{uri.Port}";
        var path = uri.AbsolutePath.TrimEnd('/');
        return uri.Scheme is "http" or "https" ? $"{host}{port}{path}" : $"{uri.Scheme}://{host}{port}{path}";
    }

    /// <summary>An absolute URL with a host; a bare path is not one (on Unix, .NET would take "/a" for a file URL).</summary>
    private static Uri? WebAddress(string text) =>
        Uri.TryCreate(text.Trim(), UriKind.Absolute, out var uri) && !uri.IsFile && !uri.IsUnc && uri.Host.Length > 0 ? uri : null;

    private static string HostKey(string host)
    {
        host = host.ToLowerInvariant().TrimEnd('.');
        return host.StartsWith("www.", StringComparison.Ordinal) ? host[4..] : host;
    }
}
