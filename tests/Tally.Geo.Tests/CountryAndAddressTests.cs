using Tally.Core.Process;
using static Tally.Geo.Tests.GeoTestKit;

namespace Tally.Geo.Tests;

public sealed class CountryAndAddressTests
{
    [Fact]
    public void The_country_table_has_every_assigned_ISO_3166_1_code_and_Kosovo()
    {
        Assert.Equal(250, CountryNames.Codes.Count);
        Assert.All(CountryNames.Codes, code => Assert.Matches("^[A-Z]{2}$", code));
        Assert.All(CountryNames.Codes, code => Assert.False(string.IsNullOrWhiteSpace(CountryNames.EnglishName(code))));
        Assert.Equal("Germany", CountryNames.EnglishName("DE"));
        Assert.Equal("Côte d'Ivoire", CountryNames.EnglishName("CI"));
        Assert.Equal("Western Sahara", CountryNames.EnglishName("EH"));
        Assert.Equal("Kosovo", CountryNames.EnglishName("XK"));
        Assert.Null(CountryNames.EnglishName("ZZ"));
    }

    // COUNTER's Subdivision_Name: the English name (CLDR's) of the ISO 3166-2 code the geo step or a PKP log gives.
    [Theory]
    [InlineData("DE-BY", "Bavaria")]
    [InlineData("de-by", "Bavaria")]
    [InlineData("US-CA", "California")]
    [InlineData("GB-ENG", "England")]
    [InlineData("CA-QC", "Quebec")]
    [InlineData("FR-75C", "Paris")]
    [InlineData("DE-XX", null)]
    [InlineData("DEBY", null)]
    [InlineData("DE", null)]
    [InlineData("DE-", null)]
    [InlineData("", null)]
    public void Subdivision_codes_have_english_names(string code, string? expected) => Assert.Equal(expected, SubdivisionNames.EnglishName(code));

    [Theory]
    [InlineData("US", "US")]
    [InlineData("us", "US")]
    [InlineData(" de ", "DE")]
    [InlineData("UK", "GB")]
    [InlineData("XK", "XK")]
    [InlineData("ZZ", null)]
    [InlineData("EU", null)]
    [InlineData("AP", null)]
    [InlineData("A1", null)]
    [InlineData("O1", null)]
    [InlineData("USA", null)]
    [InlineData("", null)]
    [InlineData(null, null)]
    public void Country_codes_normalize(string? code, string? expected) => Assert.Equal(expected, CountryNames.Normalize(code));

    [Theory]
    [InlineData("8.8.8.8", "8.8.8.8")]
    [InlineData("::ffff:8.8.8.8", "8.8.8.8")]
    [InlineData("::8.8.8.8", "8.8.8.8")]
    [InlineData("64:ff9b::808:808", "8.8.8.8")]
    [InlineData("2002:c000:204::1", "192.0.2.4")]
    [InlineData("2001:0:4136:e378:8000:63bf:3fff:fdd2", "192.0.2.45")]
    [InlineData("2001:4860::8888", "2001:4860::8888")]
    [InlineData("::1", "0.0.0.1")]
    public void IPv6_addresses_that_carry_IPv4_are_read_as_IPv4(string address, string expected)
    {
        Span<byte> raw = stackalloc byte[16];
        Ip(address).TryWriteBytes(raw, out var written);
        Span<byte> normalized = stackalloc byte[16];
        var length = AddressScope.Normalize(raw[..written], normalized);
        Assert.Equal(Ip(expected), new System.Net.IPAddress(normalized[..length]));
    }

    [Theory]
    [InlineData("8.8.8.8", true)]
    [InlineData("1.1.1.1", true)]
    [InlineData("11.0.0.1", true)]
    [InlineData("100.63.255.255", true)]
    [InlineData("100.128.0.0", true)]
    [InlineData("172.15.255.255", true)]
    [InlineData("172.32.0.0", true)]
    [InlineData("223.255.255.255", true)]
    [InlineData("2001:4860::8888", true)]
    [InlineData("2a00:1450::1", true)]
    [InlineData("2001:200::1", true)]
    [InlineData("0.1.2.3", false)]
    [InlineData("10.255.255.255", false)]
    [InlineData("100.64.0.0", false)]
    [InlineData("127.0.0.1", false)]
    [InlineData("169.254.0.1", false)]
    [InlineData("172.16.0.0", false)]
    [InlineData("172.31.255.255", false)]
    [InlineData("192.0.0.8", false)]
    [InlineData("192.0.2.1", false)]
    [InlineData("192.168.255.1", false)]
    [InlineData("198.18.0.1", false)]
    [InlineData("198.19.255.255", false)]
    [InlineData("198.51.100.1", false)]
    [InlineData("203.0.113.1", false)]
    [InlineData("224.0.0.1", false)]
    [InlineData("239.255.255.250", false)]
    [InlineData("240.0.0.1", false)]
    [InlineData("255.255.255.255", false)]
    [InlineData("::1", false)]
    [InlineData("::", false)]
    [InlineData("100::1", false)]
    [InlineData("2001:db8::1", false)]
    [InlineData("2001:10::1", false)]
    [InlineData("3fff::1", false)]
    [InlineData("5f00::1", false)]
    [InlineData("fc00::1", false)]
    [InlineData("fdff::1", false)]
    [InlineData("fe80::1", false)]
    [InlineData("fec0::1", false)]
    [InlineData("ff05::2", false)]
    public void Special_purpose_addresses_are_not_global(string address, bool global)
    {
        Span<byte> raw = stackalloc byte[16];
        Ip(address).TryWriteBytes(raw, out var written);
        Assert.Equal(global, AddressScope.IsGlobal(raw[..written]));
    }
}
