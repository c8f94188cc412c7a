using Tally.Core.Process;
using static Tally.Geo.Tests.GeoTestKit;

namespace Tally.Geo.Tests;

/// <summary>MmdbGeoLookup over both record layouts, at both levels.</summary>
public sealed class GeoLookupTests
{
    private static Dictionary<string, object?> Names(string en, string? de = null) =>
        de is null ? Map(("en", en)) : Map(("en", en), ("de", de));

    /// <summary>A record as GeoIP2/GeoLite2 City has them.</summary>
    private static Dictionary<string, object?> CityRecord(string countryCode, string countryName, string? city, params (string Code, string Name)[] subdivisions)
    {
        var record = Map(
            ("continent", Map(("code", "NA"), ("geoname_id", 6255149u), ("names", Names("North America", "Nordamerika")))),
            ("country", Map(("geoname_id", 6252001u), ("iso_code", countryCode), ("names", Names(countryName, countryName + " (de)")))),
            ("location", Map(("accuracy_radius", (ushort)20), ("latitude", 37.7509), ("longitude", -122.4153), ("time_zone", "America/Los_Angeles"))),
            ("postal", Map(("code", "94110"))),
            ("registered_country", Map(("geoname_id", 6252001u), ("iso_code", countryCode), ("names", Names(countryName)))));
        if (city is not null) record["city"] = Map(("geoname_id", 5391959u), ("names", Names(city, city + " (de)")));
        if (subdivisions.Length > 0)
            record["subdivisions"] = subdivisions.Select(s => (object?)Map(("geoname_id", 5332921u), ("iso_code", s.Code), ("names", Names(s.Name)))).ToList();
        return record;
    }

    private static MaxMindDatabase GeoIP2City(int recordSize = 28)
    {
        var writer = new MmdbWriter(6, recordSize) { DatabaseType = "GeoIP2-City", MapIPv4 = true };
        writer.Languages.AddRange(["de", "en"]);
        writer.Insert("2.0.0.0/8", CityRecord("US", "United States", "San Francisco", ("CA", "California")));
        writer.Insert("3.0.0.0/8", CityRecord("GB", "United Kingdom", "Bracknell", ("ENG", "England"), ("BRC", "Bracknell Forest")));
        writer.Insert("4.0.0.0/8", CityRecord("DE", "Germany", null));
        writer.Insert("5.0.0.0/8", Map(("registered_country", Map(("iso_code", "SE"), ("names", Names("Sweden"))))));
        writer.Insert("6.0.0.0/8", Map(("continent", Map(("code", "EU"))), ("country", Map(("iso_code", "EU")))));
        writer.Insert("7.0.0.0/8", Map(("country", Map(("iso_code", "fr")))));
        writer.Insert("8.0.0.0/8", Map(("country", Map(("iso_code", "US"), ("names", Names("USA")))),
            ("subdivisions", List(Map(("iso_code", "US-NY"), ("names", Names("New York"))))), ("city", Map(("names", Names(""))))));
        writer.Insert("9.0.0.0/8", Map(("country", Map(("iso_code", "US"))), ("subdivisions", List(Map(("iso_code", "not-a-code"), ("names", Names("Somewhere")))))));
        writer.Insert("2a02:ab00::/32", CityRecord("CH", "Switzerland", "Zürich", ("ZH", "Zurich")));
        writer.Insert("11.0.0.0/8", "not a map");
        return Open(writer, "GeoIP2-City-Test.mmdb");
    }

    /// <summary>A record as the @ip-location-db city packages have them.</summary>
    private static Dictionary<string, object?> FlatRecord(string country, string state1, string city) => Map(
        ("city", city), ("country_code", country), ("latitude", 50.1169f), ("longitude", 8.6837f),
        ("postcode", "60313"), ("state1", state1), ("state2", ""), ("timezone", "Europe/Berlin"));

    private static MaxMindDatabase FlatCity()
    {
        var writer = new MmdbWriter(4, 24) { DatabaseType = "city ipv4" };
        writer.Languages.Clear();
        writer.Insert("2.0.0.0/8", FlatRecord("DE", "Hesse", "Frankfurt am Main"));
        writer.Insert("3.0.0.0/8", FlatRecord("US", "", ""));
        writer.Insert("4.0.0.0/8", FlatRecord("ZZ", "Nowhere", "Nowhere"));
        writer.Insert("5.0.0.0/8", Map(("country_code", "uk")));
        writer.Insert("6.0.0.0/8", Map(("country_code", " us ")));
        writer.Insert("7.0.0.0/8", Map(("country_code", "AP")));
        writer.Insert("8.0.0.0/8", Map(("country_code", "XK")));
        return Open(writer, "flat-city.mmdb");
    }

    [Fact]
    public void GeoIP2_city_layout_at_city_level_fills_everything_with_ISO_3166_2_subdivisions()
    {
        var geo = new MmdbGeoLookup(GeoIP2City(), GeoLevel.City);
        Assert.Equal(new GeoLocation("US", "United States", "US-CA", "California", "San Francisco"), geo.Lookup(Ip("2.1.2.3")));
        Assert.Equal(new GeoLocation("US", "United States", "US-CA", "California", "San Francisco"), geo.Lookup(Ip("::ffff:2.1.2.3")));
        // The first (largest) subdivision is the one ISO 3166-2 codes.
        Assert.Equal(new GeoLocation("GB", "United Kingdom", "GB-ENG", "England", "Bracknell"), geo.Lookup(Ip("3.4.5.6")));
        Assert.Equal(new GeoLocation("DE", "Germany", null, null, null), geo.Lookup(Ip("4.4.4.4")));
        Assert.Equal(new GeoLocation("CH", "Switzerland", "CH-ZH", "Zurich", "Zürich"), geo.Lookup(Ip("2a02:ab00:1::1")));
        // Subdivision codes already prefixed, empty names, and codes that are not ISO 3166-2.
        Assert.Equal(new GeoLocation("US", "USA", "US-NY", "New York", null), geo.Lookup(Ip("8.1.1.1")));
        Assert.Equal(new GeoLocation("US", "United States", null, "Somewhere", null), geo.Lookup(Ip("9.1.1.1")));
    }

    [Fact]
    public void GeoIP2_city_layout_at_country_level_fills_only_the_country()
    {
        var geo = new MmdbGeoLookup(GeoIP2City(), GeoLevel.Country);
        Assert.Equal(new GeoLocation("US", "United States", null, null, null), geo.Lookup(Ip("2.1.2.3")));
        Assert.Equal(new GeoLocation("GB", "United Kingdom", null, null, null), geo.Lookup(Ip("3.4.5.6")));
        Assert.Equal(new GeoLocation("CH", "Switzerland", null, null, null), geo.Lookup(Ip("2a02:ab00:1::1")));
    }

    [Fact]
    public void GeoIP2_records_without_a_usable_country()
    {
        var geo = new MmdbGeoLookup(GeoIP2City(), GeoLevel.City);
        // No country: the registered country stands in.
        Assert.Equal(new GeoLocation("SE", "Sweden", null, null, null), geo.Lookup(Ip("5.5.5.5")));
        // "EU" is a continent, not a country: no location rather than a made-up one.
        Assert.Null(geo.Lookup(Ip("6.6.6.6")));
        // Lower-case codes are normalized; a missing English name comes from the built-in table.
        Assert.Equal(new GeoLocation("FR", "France", null, null, null), geo.Lookup(Ip("7.7.7.7")));
        // A record that is not a map, and an address without a record.
        Assert.Null(geo.Lookup(Ip("11.1.1.1")));
        Assert.Null(geo.Lookup(Ip("12.1.1.1")));
        Assert.Null(geo.Lookup(Ip("2a03::1")));
    }

    [Fact]
    public void Flat_ip_location_db_layout_at_both_levels()
    {
        var db = FlatCity();
        var city = new MmdbGeoLookup(db, GeoLevel.City);
        var country = new MmdbGeoLookup(db, GeoLevel.Country);

        // state1 is a name: these databases carry no subdivision code.
        Assert.Equal(new GeoLocation("DE", "Germany", null, "Hesse", "Frankfurt am Main"), city.Lookup(Ip("2.3.4.5")));
        Assert.Equal(new GeoLocation("DE", "Germany", null, null, null), country.Lookup(Ip("2.3.4.5")));
        Assert.Equal(new GeoLocation("US", "United States", null, null, null), city.Lookup(Ip("3.3.3.3")));
        Assert.Null(city.Lookup(Ip("4.4.4.4")));
        Assert.Equal("GB", city.Lookup(Ip("5.5.5.5"))?.CountryCode);
        Assert.Equal("US", city.Lookup(Ip("6.6.6.6"))?.CountryCode);
        Assert.Null(city.Lookup(Ip("7.7.7.7")));
        Assert.Equal(new GeoLocation("XK", "Kosovo", null, null, null), city.Lookup(Ip("8.8.8.8")));
        // An IPv4 database has nothing for IPv6.
        Assert.Null(city.Lookup(Ip("2a00:1450::1")));
    }

    [Fact]
    public void Several_databases_are_asked_in_turn()
    {
        var ipv4City = FlatCity();
        var writer = new MmdbWriter(6, 24);
        writer.Insert("2.0.0.0/8", Map(("country_code", "FR")));
        writer.Insert("4.0.0.0/8", Map(("country_code", "NO")));
        writer.Insert("2a00::/16", Map(("country_code", "IE")));
        var country = Open(writer);
        var geo = new MmdbGeoLookup([ipv4City, country], GeoLevel.City);

        Assert.Equal("DE", geo.Lookup(Ip("2.3.4.5"))?.CountryCode);          // the first that knows wins
        Assert.Equal("NO", geo.Lookup(Ip("4.4.4.4"))?.CountryCode);          // ZZ in the first: the next one
        Assert.Equal("IE", geo.Lookup(Ip("2a00:1450::1"))?.CountryCode);     // IPv6 only in the second
        Assert.Null(geo.Lookup(Ip("9.9.9.9")));
        Assert.Equal(2, geo.Databases.Count);
    }

    [Fact]
    public void Locations_are_cached_per_record_so_repeated_lookups_share_them()
    {
        var geo = new MmdbGeoLookup(GeoIP2City(), GeoLevel.City);
        var first = geo.Lookup(Ip("2.1.2.3"));
        Assert.Same(first, geo.Lookup(Ip("2.1.2.3")));
        Assert.Same(first, geo.Lookup(Ip("2.200.0.1")));
        Assert.Same(first, geo.Lookup(Ip("::ffff:2.9.9.9")));
    }

    [Fact]
    public void A_small_cache_starts_over_and_keeps_answering()
    {
        var writer = new MmdbWriter(4, 24);
        for (var i = 1; i < 200; i++) writer.Insert($"{i}.0.0.0/8", Map(("country_code", i % 2 == 0 ? "DE" : "FR"), ("n", (uint)i)));
        var geo = new MmdbGeoLookup([Open(writer)], GeoLevel.Country, cacheCapacity: 8);
        for (var round = 0; round < 3; round++)
        {
            for (var i = 1; i < 200; i++)
            {
                if (i is 10 or 100 or 127 or 169 or 172 or 192 or 198) continue;
                Assert.Equal(i % 2 == 0 ? "DE" : "FR", geo.Lookup(Ip($"{i}.1.2.3"))?.CountryCode);
            }
        }
    }

    [Theory]
    [InlineData("country", GeoLevel.Country)]
    [InlineData("City", GeoLevel.City)]
    [InlineData(" CITY ", GeoLevel.City)]
    public void Levels_parse(string text, GeoLevel level) => Assert.Equal(level, MmdbGeoLookup.ParseLevel(text));

    [Fact]
    public void Unknown_levels_are_refused() => Assert.Throws<ArgumentException>(() => MmdbGeoLookup.ParseLevel("region"));

    [Theory]
    [InlineData("US", "CA", "US-CA")]
    [InlineData("GB", "eng", "GB-ENG")]
    [InlineData("US", "US-NY", "US-NY")]
    [InlineData("FR", "75", "FR-75")]
    [InlineData("US", "", null)]
    [InlineData("US", null, null)]
    [InlineData("US", "CALI", null)]
    [InlineData("US", "C A", null)]
    public void Subdivision_codes_are_ISO_3166_2(string country, string? iso, string? expected) =>
        Assert.Equal(expected, MmdbGeoLookup.SubdivisionCode(country, iso));
}
