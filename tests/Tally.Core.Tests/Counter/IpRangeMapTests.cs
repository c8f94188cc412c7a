using System.Net;
using Tally.Core.Process;

namespace Tally.Core.Tests.Counter;

/// <summary>Institution ranges: CIDR, single addresses and first-last ranges, most specific first.</summary>
public sealed class IpRangeMapTests
{
    private static IpRangeMap<string> Map(params (string Range, string Value)[] ranges)
    {
        var map = new IpRangeMap<string>();
        foreach (var (range, value) in ranges) map.Add(range, value);
        return map;
    }

    private static string? Find(IpRangeMap<string> map, string address) => map.Find(IPAddress.Parse(address));

    [Theory]
    [InlineData("10.0.0.0", "net")]
    [InlineData("10.255.255.255", "net")]
    [InlineData("10.1.2.3", "net")]
    [InlineData("9.255.255.255", null)]
    [InlineData("11.0.0.0", null)]
    public void An_ipv4_cidr_range_covers_exactly_its_block(string address, string? expected)
    {
        Assert.Equal(expected, Find(Map(("10.0.0.0/8", "net")), address));
    }

    [Theory]
    [InlineData("2001:db8::", "net")]
    [InlineData("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "net")]
    [InlineData("2001:db8:1234::42", "net")]
    [InlineData("2001:db9::", null)]
    [InlineData("2001:db7:ffff::", null)]
    public void An_ipv6_cidr_range_covers_exactly_its_block(string address, string? expected)
    {
        Assert.Equal(expected, Find(Map(("2001:db8::/32", "net")), address));
    }

    [Fact]
    public void A_single_address_covers_only_itself()
    {
        var map = Map(("192.0.2.7", "one"), ("2001:db8::7", "six"));
        Assert.Equal("one", Find(map, "192.0.2.7"));
        Assert.Null(Find(map, "192.0.2.6"));
        Assert.Null(Find(map, "192.0.2.8"));
        Assert.Equal("six", Find(map, "2001:db8::7"));
        Assert.Null(Find(map, "2001:db8::8"));
    }

    [Fact]
    public void A_first_last_range_covers_exactly_the_addresses_from_first_to_last()
    {
        var map = Map(("10.0.0.5-10.0.0.20", "range"));
        for (var last = 0; last < 256; last++)
            Assert.Equal(last is >= 5 and <= 20 ? "range" : null, Find(map, $"10.0.0.{last}"));
        Assert.Null(Find(map, "10.0.1.5"));
        Assert.Null(Find(map, "::ffff:10.0.0.4"));
        Assert.Equal("range", Find(map, "::ffff:10.0.0.5"));
    }

    [Fact]
    public void A_first_last_range_may_span_blocks_and_have_spaces()
    {
        var map = Map((" 192.0.2.250 - 192.0.3.3 ", "span"), ("2001:db8::fffe-2001:db8::1:1", "six"));
        Assert.Equal(["span", "span", "span", null], new[] { "192.0.2.250", "192.0.2.255", "192.0.3.3", "192.0.3.4" }.Select(a => Find(map, a)));
        Assert.Null(Find(map, "192.0.2.249"));
        Assert.Equal(["six", "six", "six", null], new[] { "2001:db8::fffe", "2001:db8::1:0", "2001:db8::1:1", "2001:db8::1:2" }.Select(a => Find(map, a)));
    }

    [Fact]
    public void The_most_specific_range_wins_whatever_the_order_ranges_are_added_in()
    {
        (string, string)[] ranges = [("10.0.0.0/8", "university"), ("10.1.0.0/16", "library"), ("10.1.2.0/26", "department"), ("10.1.2.7", "kiosk")];
        foreach (var map in new[] { Map(ranges), Map([.. ranges.Reverse()]) })
        {
            Assert.Equal("university", Find(map, "10.9.9.9"));
            Assert.Equal("library", Find(map, "10.1.9.9"));
            Assert.Equal("department", Find(map, "10.1.2.63"));
            Assert.Equal("library", Find(map, "10.1.2.64"));
            Assert.Equal("kiosk", Find(map, "10.1.2.7"));
        }
    }

    [Fact]
    public void An_ipv4_mapped_ipv6_address_matches_ipv4_ranges()
    {
        var map = Map(("10.0.0.0/8", "v4"), ("192.0.2.5", "host"));
        Assert.Equal("v4", Find(map, "::ffff:10.0.0.5"));
        Assert.Equal("host", Find(map, "::ffff:192.0.2.5"));
        Assert.Equal("v4", map.Find(IPAddress.Parse("10.0.0.5").MapToIPv6()));
    }

    [Fact]
    public void Ipv4_ranges_do_not_match_ipv6_addresses_and_the_other_way_round()
    {
        var map = Map(("0.0.0.0/0", "all-v4"), ("2001:db8::/32", "doc-v6"));
        Assert.Equal("all-v4", Find(map, "203.0.113.9"));
        Assert.Null(Find(map, "2001:db9::1"));
        Assert.Null(Find(map, "::a00:5")); // 10.0.0.5 as an IPv4-compatible (not mapped) address
        Assert.Equal("doc-v6", Find(map, "2001:db8::1"));
    }

    [Theory]
    [InlineData("10.0.0.5/24", "10.0.0.0/24")]
    [InlineData("192.0.2.1/31", "192.0.2.0/31")]
    [InlineData("2001:db8::1/32", "2001:db8::/32")]
    public void A_cidr_range_with_host_bits_set_is_rejected_with_the_range_meant(string range, string meant)
    {
        var error = Assert.Throws<FormatException>(() => Map((range, "x")));
        Assert.Contains($"'{range}'", error.Message);
        Assert.Contains("host bits", error.Message);
        Assert.Contains($"did you mean {meant}?", error.Message);
    }

    [Theory]
    [InlineData("not an address", "is not an IP address")]
    [InlineData("university", "is not an IP address")]
    [InlineData("", "is not an IP address")]
    [InlineData("10.0.0.0/33", "prefix length outside 0-32")]
    [InlineData("10.0.0.0/-1", "is not an IP address")]
    [InlineData("10.0.0.0/x", "prefix length outside 0-32")]
    [InlineData("2001:db8::/129", "prefix length outside 0-128")]
    [InlineData("10.0.0.20-10.0.0.5", "ends before it starts")]
    [InlineData("10.0.0.1-2001:db8::1", "mixes IPv4 and IPv6")]
    [InlineData("10.0.0.0/24-10.0.1.0", "is not an IP address")]
    [InlineData("300.1.1.1", "is not an IP address")]
    public void Garbage_is_rejected_with_a_reason(string range, string reason)
    {
        var error = Assert.Throws<FormatException>(() => Map((range, "x")));
        Assert.Contains(reason, error.Message);
    }

    // IPAddress.TryParse reads "10.0.0" or "1234" as other addresses; a typo must fail the configuration instead.
    [Theory]
    [InlineData("1234")]
    [InlineData("10.0.0")]
    [InlineData("192.168.1")]
    [InlineData("0x0A.0.0.1")]
    public void Shorthand_ipv4_forms_are_rejected_rather_than_read_as_some_other_address(string range)
    {
        Assert.Throws<FormatException>(() => Map((range, "x")));
    }

    [Fact]
    public void The_same_range_for_two_entries_is_rejected_but_adding_it_twice_for_one_entry_is_not()
    {
        var map = new IpRangeMap<string>();
        const string university = "university";
        map.Add("10.0.0.0/8", university);
        map.Add("10.0.0.0/8", university);
        var error = Assert.Throws<FormatException>(() => map.Add("10.0.0.0/8", "other"));
        Assert.Contains("already attributed", error.Message);
    }

    // A block of half the IPv6 space is the largest that is not the whole space; 1 << 128 must not wrap to 1 << 0.
    [Fact]
    public void First_last_ranges_of_half_the_ipv6_space_cover_that_half_only()
    {
        var low = Map(("::-7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "low"));
        var high = Map(("8000::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "high"));

        Assert.Equal("low", Find(low, "2001:db8::1"));
        Assert.Null(Find(low, "8000::1"));
        Assert.Equal("high", Find(high, "8000::"));
        Assert.Equal("high", Find(high, "ffff::1"));
    }

    [Fact]
    public void A_first_last_range_of_every_ipv4_address_covers_them_all()
    {
        var map = Map(("0.0.0.0-255.255.255.255", "all"));
        Assert.Equal(["all", "all", "all"], new[] { "0.0.0.0", "128.0.0.1", "255.255.255.255" }.Select(a => Find(map, a)));
        Assert.Null(Find(map, "2001:db8::1"));
    }
}
