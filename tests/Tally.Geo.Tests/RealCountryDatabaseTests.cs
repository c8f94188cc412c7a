using Tally.Core.Process;
using static Tally.Geo.Tests.GeoTestKit;

namespace Tally.Geo.Tests;

/// <summary>The country database that ships with Tally (npm @ip-location-db/geo-whois-asn-country-mmdb, pinned).</summary>
public sealed class RealCountryDatabaseTests
{
    private static readonly MmdbGeoLookup Geo = new(RealCountryDatabase, GeoLevel.Country);

    [Fact]
    public void Metadata_is_read()
    {
        var metadata = RealCountryDatabase.Metadata;
        Assert.Equal(6, metadata.IPVersion);
        Assert.Equal(24, metadata.RecordSize);
        Assert.True(metadata.NodeCount > 100_000, $"{metadata.NodeCount} nodes");
        Assert.Equal(2, metadata.BinaryFormatMajorVersion);
        Assert.Contains("country", metadata.DatabaseType, StringComparison.Ordinal);
        Assert.Empty(metadata.Languages);
        Assert.InRange(metadata.BuildTime, new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2027, 1, 1, 0, 0, 0, TimeSpan.Zero));
        Assert.True(RealCountryDatabase.DataSectionSize > 0);
    }

    [Theory]
    // Google Public DNS, registered to Google LLC with ARIN, over IPv4, IPv6, IPv4-mapped IPv6, 6to4 and Teredo.
    [InlineData("8.8.8.8", "US")]
    [InlineData("2001:4860:4860::8888", "US")]
    [InlineData("::ffff:8.8.8.8", "US")]
    [InlineData("2002:808:808::1", "US")]
    [InlineData("2001:0:4136:e378:8000:63bf:f7f7:f7f7", "US")]
    // RIPE NCC's own website, in Amsterdam, on both protocols.
    [InlineData("193.0.6.139", "NL")]
    [InlineData("2001:67c:2e8:22::c100:68b", "NL")]
    // The M root server, run by the WIDE Project in Tokyo.
    [InlineData("202.12.27.33", "JP")]
    // NIC.br, the Brazilian registry, in São Paulo.
    [InlineData("200.160.2.3", "BR")]
    public void Well_known_addresses_resolve_to_their_country(string address, string country)
    {
        var location = Geo.Lookup(Ip(address));
        Assert.NotNull(location);
        Assert.Equal(country, location.CountryCode);
        Assert.Equal(CountryNames.EnglishName(country), location.CountryName);
        Assert.Null(location.SubdivisionCode);
        Assert.Null(location.SubdivisionName);
        Assert.Null(location.City);
    }

    [Fact]
    public void Country_names_come_from_the_table_since_the_database_has_none()
    {
        Assert.Equal(new GeoLocation("US", "United States", null, null, null), Geo.Lookup(Ip("8.8.8.8")));
        Assert.Equal("Netherlands", Geo.Lookup(Ip("193.0.6.139"))!.CountryName);
    }

    [Theory]
    [InlineData("10.0.0.1")]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    [InlineData("::")]
    [InlineData("0.0.0.0")]
    [InlineData("255.255.255.255")]
    [InlineData("169.254.10.10")]
    [InlineData("100.64.1.1")]
    [InlineData("192.168.1.1")]
    [InlineData("172.16.5.4")]
    [InlineData("198.51.100.7")]
    [InlineData("203.0.113.9")]
    [InlineData("224.0.0.251")]
    [InlineData("fe80::1")]
    [InlineData("fd12:3456:789a::1")]
    [InlineData("ff02::1")]
    [InlineData("2001:db8::1")]
    [InlineData("::ffff:192.168.0.1")]
    [InlineData("::ffff:127.0.0.1")]
    public void Private_and_reserved_addresses_have_no_country(string address) => Assert.Null(Geo.Lookup(Ip(address)));

    [Theory]
    // The data itself puts these reserved ranges in a country; the lookup must not pass that on.
    [InlineData("192.168.1.1", "AU")]
    [InlineData("172.16.5.4", "AU")]
    [InlineData("2001:db8::1", "JP")]
    public void The_raw_data_has_countries_for_some_reserved_ranges(string address, string country) =>
        Assert.Equal(country, RealCountryDatabase.Find(Ip(address)).Get("country_code"u8).AsString());

    [Fact]
    public void Records_are_flat_maps_with_a_country_code()
    {
        var record = RealCountryDatabase.Find(Ip("8.8.8.8"), out var prefixLength);
        Assert.Equal(MmdbDataType.Map, record.Type);
        AssertDecoded(Map(("country_code", "US")), record.Decode());
        Assert.InRange(prefixLength, 8, 24);
        // Networks share records: all US networks point at one.
        Assert.Equal(record.Offset, RealCountryDatabase.Find(Ip("2001:4860:4860::8888")).Offset);
    }

    [Fact]
    public void The_build_copies_the_database_next_to_the_assemblies()
    {
        var path = MmdbGeoLookup.DefaultCountryDatabasePath;
        Assert.Equal(Path.Combine(AppContext.BaseDirectory, "geo", "country.mmdb"), path);
        Assert.True(File.Exists(path), $"{path} is missing");
        Assert.True(File.ReadAllBytes(path).AsSpan().SequenceEqual(File.ReadAllBytes(NpmCountryDatabasePath)), "the copy differs from the npm file");

        var geo = MmdbGeoLookup.OpenDefaultCountryDatabase();
        Assert.Equal(GeoLevel.Country, geo.Level);
        Assert.Equal("US", geo.Lookup(Ip("8.8.8.8"))?.CountryCode);
    }
}
