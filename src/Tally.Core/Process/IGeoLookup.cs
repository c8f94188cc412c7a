using System.Net;

namespace Tally.Core.Process;

/// <summary>
/// Where an IP address is, as far as a geo database knows. Codes follow ISO 3166: CountryCode is
/// alpha-2 ("DE"), SubdivisionCode is ISO 3166-2 ("DE-BY"), as COUNTER reports expect them.
/// </summary>
public sealed record GeoLocation(string CountryCode, string? CountryName, string? SubdivisionCode, string? SubdivisionName, string? City);

/// <summary>Looks up an IP address in a geo database. Implementations must be safe for concurrent use.</summary>
public interface IGeoLookup
{
    /// <summary>The location, or null when the database has none for this address.</summary>
    GeoLocation? Lookup(IPAddress address);
}
