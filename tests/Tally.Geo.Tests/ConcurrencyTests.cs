using System.Net;
using Tally.Core.Process;
using static Tally.Geo.Tests.GeoTestKit;

namespace Tally.Geo.Tests;

public sealed class ConcurrencyTests
{
    private static IPAddress[] RandomAddresses(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(i =>
        {
            var bytes = new byte[i % 3 == 0 ? 16 : 4];
            random.NextBytes(bytes);
            if (bytes.Length == 16) bytes[0] = (byte)(0x20 | (bytes[0] & 0x0F)); // mostly allocated 2000::/4 space
            return new IPAddress(bytes);
        }).ToArray();
    }

    [Fact]
    public void Many_threads_looking_up_at_once_get_the_same_answers()
    {
        var addresses = RandomAddresses(20_000, seed: 7);
        var sequential = new MmdbGeoLookup(RealCountryDatabase, GeoLevel.Country);
        var expected = addresses.Select(sequential.Lookup).ToArray();
        Assert.True(expected.Count(e => e is not null) > 5_000, "most random addresses should have a country");

        // A fresh lookup, so the threads also race to fill the cache.
        var shared = new MmdbGeoLookup(RealCountryDatabase, GeoLevel.Country);
        const int threads = 8;
        var mismatches = 0;
        using var start = new Barrier(threads);
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            start.SignalAndWait();
            for (var round = 0; round < 3; round++)
            {
                for (var k = 0; k < addresses.Length; k++)
                {
                    var i = (k * (t + 1) * 7919 + round) % addresses.Length;
                    if (shared.Lookup(addresses[i]) != expected[i]) Interlocked.Increment(ref mismatches);
                }
            }
        })).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());
        Assert.Equal(0, mismatches);
    }

    [Fact]
    public void Concurrent_decoding_and_a_cache_that_keeps_starting_over()
    {
        var writer = new MmdbWriter(6, 28) { MapIPv4 = true };
        var countries = CountryNames.Codes.Order().ToArray();
        for (var i = 0; i < 1_000; i++)
        {
            writer.Insert($"{20 + i / 256}.{i % 256}.0.0/16", Map(
                ("country", Map(("iso_code", countries[i % countries.Length]))),
                ("subdivisions", List(Map(("iso_code", $"S{i % 50}"), ("names", Map(("en", $"Region {i % 50}")))))),
                ("city", Map(("names", Map(("en", $"City {i}")))))));
        }
        var db = Open(writer);
        var addresses = Enumerable.Range(0, 1_000).Select(i => IPAddress.Parse($"{20 + i / 256}.{i % 256}.1.2")).ToArray();
        var expected = addresses.Select(a => new MmdbGeoLookup(db, GeoLevel.City).Lookup(a)).ToArray();
        Assert.All(expected, Assert.NotNull);

        var geo = new MmdbGeoLookup([db], GeoLevel.City, cacheCapacity: 64);
        var failures = 0;
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, t =>
        {
            for (var round = 0; round < 5; round++)
            {
                for (var k = 0; k < addresses.Length; k++)
                {
                    var i = (k * 31 + t * 97 + round) % addresses.Length;
                    if (geo.Lookup(addresses[i]) != expected[i]) Interlocked.Increment(ref failures);
                    if (!Equals(db.Find(addresses[i]).Get("city"u8).Get("names"u8).Get("en"u8).AsString(), $"City {i}"))
                        Interlocked.Increment(ref failures);
                }
            }
        });
        Assert.Equal(0, failures);
    }
}
