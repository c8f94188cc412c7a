using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Tally.Core.Accept;
using Tally.Core.Configuration;
using Tally.Hosting.Demo;

namespace Tally.Benchmarks;

/// <summary>EventParser over a realistic NDJSON batch, against a bare Utf8JsonReader pass over the same bytes.</summary>
[MemoryDiagnoser]
public class AcceptBenchmarks
{
    private byte[] _batch = [];
    private EventParser _parser = null!;

    [GlobalSetup]
    public void Setup()
    {
        var now = DateTime.UtcNow;
        _batch = new DemoGenerator().History(now.Date.AddDays(-1), now, 20_000, 5_000).First().Ndjson.ToArray();
        _parser = new EventParser(TallySchema.Compile(DefaultConfiguration.Create()), TimeProvider.System);
    }

    [Benchmark(Baseline = true)]
    public int BareUtf8JsonReader()
    {
        var reader = new Utf8JsonReader(_batch, new JsonReaderOptions { AllowMultipleValues = true });
        var tokens = 0;
        while (reader.Read()) tokens++;
        return tokens;
    }

    [Benchmark]
    public int EventParser() => _parser.Parse(_batch).Events.Count;
}
