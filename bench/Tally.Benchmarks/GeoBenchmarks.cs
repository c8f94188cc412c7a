using System.Net;
using BenchmarkDotNet.Attributes;
using Tally.Geo;

namespace Tally.Benchmarks;

/// <summary>Geo lookups in the built-in country database (geo/country.mmdb), per address.</summary>
[MemoryDiagnoser]
public class GeoBenchmarks
{
    private const int Addresses = 1024;

    private MaxMindDatabase _database = null!;
    private MmdbGeoLookup _geo = null!;
    private IPAddress[] _ipv4 = [];
    private IPAddress[] _ipv6 = [];

    [GlobalSetup]
    public void Setup()
    {
        _database = MaxMindDatabase.Open(MmdbGeoLookup.DefaultCountryDatabasePath);
        _geo = new MmdbGeoLookup(_database, GeoLevel.Country);
        // Addresses the database places somewhere: the common case for real traffic.
        var random = new Random(1);
        _ipv4 = Located(random, 4).Take(Addresses).ToArray();
        _ipv6 = Located(random, 16).Take(Addresses).ToArray();
        // Warm the per-record cache, as a running server has it.
        foreach (var address in _ipv4.Concat(_ipv6)) _geo.Lookup(address);
    }

    private IEnumerable<IPAddress> Located(Random random, int length)
    {
        while (true)
        {
            var bytes = new byte[length];
            random.NextBytes(bytes);
            if (length == 16) bytes[0] = 0x2A; // RIPE's 2a00::/8: mostly allocated
            var address = new IPAddress(bytes);
            if (_geo.Lookup(address) is not null) yield return address;
        }
    }

    /// <summary>What the geo pipeline step pays per event: tree walk plus cached location.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Addresses)]
    public int LookupIPv4()
    {
        var found = 0;
        foreach (var address in _ipv4) found += _geo.Lookup(address) is null ? 0 : 1;
        return found;
    }

    [Benchmark(OperationsPerInvoke = Addresses)]
    public int LookupIPv6()
    {
        var found = 0;
        foreach (var address in _ipv6) found += _geo.Lookup(address) is null ? 0 : 1;
        return found;
    }

    /// <summary>The search tree alone.</summary>
    [Benchmark(OperationsPerInvoke = Addresses)]
    public int TreeWalkIPv4()
    {
        var sum = 0;
        foreach (var address in _ipv4) sum += _database.FindDataOffset(address, out _);
        return sum;
    }

    /// <summary>Reading one field of the record without the cache: navigation plus the string.</summary>
    [Benchmark(OperationsPerInvoke = Addresses)]
    public int ReadCountryCodeUncached()
    {
        var length = 0;
        foreach (var address in _ipv4) length += _database.Find(address).Get("country_code"u8).AsString()?.Length ?? 0;
        return length;
    }

    /// <summary>Decoding the whole record into objects, for comparison.</summary>
    [Benchmark(OperationsPerInvoke = Addresses)]
    public int DecodeRecord()
    {
        var count = 0;
        foreach (var address in _ipv4) count += _database.Find(address).Decode() is Dictionary<string, object?> map ? map.Count : 0;
        return count;
    }
}
