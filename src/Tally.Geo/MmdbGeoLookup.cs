using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Tally.Core.Process;

namespace Tally.Geo;

/// <summary>How much of a location to fill in.</summary>
public enum GeoLevel
{
    /// <summary>Country code and name only.</summary>
    Country = 0,

    /// <summary>Country, first-level subdivision (region) and city, as far as the database knows them.</summary>
    City = 1,
}

/// <summary>
/// <see cref="IGeoLookup"/> over one or more MaxMind DB files. It reads both record layouts in use:
/// <list type="bullet">
/// <item>MaxMind GeoIP2/GeoLite2 Country and City: <c>country.iso_code</c>, <c>country.names.en</c>,
/// <c>subdivisions[0].iso_code</c> and <c>.names.en</c> (the largest subdivision), <c>city.names.en</c>; when a record
/// has no <c>country</c> (anycast and satellite networks, or continent-only records), <c>registered_country</c>
/// stands in for it.</item>
/// <item>The flat records of the npm <c>@ip-location-db/*-mmdb</c> packages: <c>country_code</c>, and in city
/// databases <c>state1</c> (the subdivision's name: these databases carry no subdivision code) and <c>city</c>.</item>
/// </list>
/// Country codes are normalized by <see cref="CountryNames.Normalize"/>: "UK" is read as "GB", and codes that are not a
/// country ("ZZ", the regional "EU" and "AP", legacy "A1"/"A2"/"O1") give no location at all rather than a made-up
/// country. The country name comes from the database's English names, else from <see cref="CountryNames"/>.
/// SubdivisionCode is ISO 3166-2, built from the two codes ("US" + "CA" → "US-CA").
/// Before any database is asked, an IPv6 address that carries an IPv4 one (mapped, NAT64, 6to4, Teredo) is read as
/// that, and special-purpose addresses (private, loopback, link-local, documentation, multicast, ...) give null: see
/// <see cref="AddressScope"/>.
/// With several databases, each is asked in turn and the first location found wins (e.g. the IPv4 and IPv6 files of a
/// city database, or a city database before a country one). What is made of a record is cached by its data offset,
/// since many networks share one record, so a repeated lookup walks the tree and allocates nothing.
/// Safe for concurrent use. A database found corrupt during a lookup throws <see cref="InvalidDatabaseException"/>.
/// </summary>
public sealed class MmdbGeoLookup : IGeoLookup
{
    /// <summary>Where the built-in country database goes, relative to the application's base directory.</summary>
    public const string DefaultCountryDatabaseRelativePath = "geo/country.mmdb";

    /// <summary>Cached records at most; when full the cache starts over (a country database has a few hundred).</summary>
    private const int DefaultCacheCapacity = 65_536;

    private readonly MaxMindDatabase[] _databases;
    private readonly ConcurrentDictionary<long, GeoLocation?> _cache = new();
    private readonly int _cacheCapacity;
    private int _cached;

    public MmdbGeoLookup(MaxMindDatabase database, GeoLevel level = GeoLevel.Country)
        : this([database], level)
    {
    }

    public MmdbGeoLookup(IEnumerable<MaxMindDatabase> databases, GeoLevel level = GeoLevel.Country)
        : this(databases, level, DefaultCacheCapacity)
    {
    }

    internal MmdbGeoLookup(IEnumerable<MaxMindDatabase> databases, GeoLevel level, int cacheCapacity)
    {
        ArgumentNullException.ThrowIfNull(databases);
        ArgumentOutOfRangeException.ThrowIfLessThan(cacheCapacity, 1);
        _cacheCapacity = cacheCapacity;
        _databases = databases.ToArray();
        if (_databases.Length == 0) throw new ArgumentException("At least one database is needed.", nameof(databases));
        if (_databases.Any(d => d is null)) throw new ArgumentException("A database is null.", nameof(databases));
        if (!Enum.IsDefined(level)) throw new ArgumentOutOfRangeException(nameof(level), level, "Not a geo level.");
        Level = level;
    }

    /// <summary>
    /// The country database built in (the npm package <c>@ip-location-db/geo-whois-asn-country-mmdb</c>, IPv4 and IPv6,
    /// copied next to the assemblies at build and publish time, so it is there without network access).
    /// </summary>
    public static string DefaultCountryDatabasePath => Path.Combine(AppContext.BaseDirectory, DefaultCountryDatabaseRelativePath);

    public GeoLevel Level { get; }

    public IReadOnlyList<MaxMindDatabase> Databases => _databases;

    /// <summary>Opens database files, asked in the order given.</summary>
    public static MmdbGeoLookup Open(IEnumerable<string> paths, GeoLevel level = GeoLevel.Country) =>
        new(paths.Select(MaxMindDatabase.Open).ToArray(), level);

    /// <summary>Opens one database file.</summary>
    public static MmdbGeoLookup Open(string path, GeoLevel level = GeoLevel.Country) => Open([path], level);

    /// <summary>Opens one database file at city level or at country level.</summary>
    public static MmdbGeoLookup Open(string path, bool cityLevel) => Open(path, cityLevel ? GeoLevel.City : GeoLevel.Country);

    /// <summary>The built-in country database, at <see cref="GeoLevel.Country"/>.</summary>
    public static MmdbGeoLookup OpenDefaultCountryDatabase()
    {
        var path = DefaultCountryDatabasePath;
        if (!File.Exists(path))
            throw new FileNotFoundException(
                $"The built-in country database is missing at {path}. The build copies it there from "
                + "assets/node_modules/@ip-location-db/geo-whois-asn-country-mmdb (npm ci in assets/).", path);
        return Open(path, GeoLevel.Country);
    }

    /// <summary>"country" or "city", in any case, as a configuration spells the level.</summary>
    public static GeoLevel ParseLevel(string level) =>
        level?.Trim().ToLowerInvariant() switch
        {
            "country" => GeoLevel.Country,
            "city" => GeoLevel.City,
            _ => throw new ArgumentException($"Geo level '{level}' is not 'country' or 'city'.", nameof(level)),
        };

    public GeoLocation? Lookup(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6)) return null;
        Span<byte> raw = stackalloc byte[16];
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(raw, out var written);
        bytes = bytes[..AddressScope.Normalize(raw[..written], bytes)];
        if (!AddressScope.IsGlobal(bytes)) return null;

        for (var i = 0; i < _databases.Length; i++)
        {
            var database = _databases[i];
            var offset = database.FindDataOffset(bytes, out _);
            if (offset < 0) continue;
            var key = ((long)i << 32) | (uint)offset;
            if (!_cache.TryGetValue(key, out var location))
            {
                location = Read(database.ValueAt(offset));
                Remember(key, location);
            }
            if (location is not null) return location;
        }
        return null;
    }

    private void Remember(long key, GeoLocation? location)
    {
        if (Interlocked.Increment(ref _cached) > _cacheCapacity)
        {
            _cache.Clear();
            Interlocked.Exchange(ref _cached, 1);
        }
        _cache.TryAdd(key, location);
    }

    /// <summary>What one record says, at this lookup's level; null when it names no country.</summary>
    internal GeoLocation? Read(MmdbValue record)
    {
        if (record.Type != MmdbDataType.Map) return null;

        var country = record.Get("country"u8);
        var code = CountryNames.Normalize(country.Get("iso_code"u8).AsString());
        if (code is null)
        {
            country = default;
            code = CountryNames.Normalize(record.Get("country_code"u8).AsString());
        }
        if (code is null)
        {
            country = record.Get("registered_country"u8);
            code = CountryNames.Normalize(country.Get("iso_code"u8).AsString());
        }
        if (code is null) return null;
        var countryName = NonEmpty(country.Get("names"u8).Get("en"u8).AsString()) ?? CountryNames.EnglishName(code);
        if (Level == GeoLevel.Country) return new GeoLocation(code, countryName, null, null, null);

        string? subdivisionCode = null;
        string? subdivisionName;
        var subdivision = record.Get("subdivisions"u8).At(0);
        if (subdivision.Exists)
        {
            subdivisionCode = SubdivisionCode(code, subdivision.Get("iso_code"u8).AsString());
            subdivisionName = NonEmpty(subdivision.Get("names"u8).Get("en"u8).AsString());
        }
        else
        {
            subdivisionName = NonEmpty(record.Get("state1"u8).AsString());
        }

        var city = record.Get("city"u8);
        var cityName = city.Type == MmdbDataType.Map ? city.Get("names"u8).Get("en"u8).AsString() : city.AsString();
        return new GeoLocation(code, countryName, subdivisionCode, subdivisionName, NonEmpty(cityName));
    }

    /// <summary>ISO 3166-2 from a country code and a subdivision code as MaxMind stores it ("CA", or already "US-CA");
    /// null unless the subdivision part is 1 to 3 letters or digits, as ISO 3166-2 has them.</summary>
    internal static string? SubdivisionCode(string countryCode, string? isoCode)
    {
        if (string.IsNullOrWhiteSpace(isoCode)) return null;
        var part = isoCode.Trim().ToUpperInvariant();
        if (part.Length > 3 && part.StartsWith(countryCode + "-", StringComparison.Ordinal)) part = part[3..];
        return part.Length is >= 1 and <= 3 && part.All(char.IsAsciiLetterOrDigit) ? $"{countryCode}-{part}" : null;
    }

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
