using BenchmarkDotNet.Attributes;
using Tally.Bench;
using Tally.Core.Accept;
using Tally.Core.Configuration;

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
        _batch = DemoWorkload.OneBatch().ToArray();
        _parser = new EventParser(TallySchema.Compile(DefaultConfiguration.Create()), TimeProvider.System);
    }

    [Benchmark(Baseline = true)]
    public long BareUtf8JsonReader() => JsonBaseline.CountTokens(_batch);

    [Benchmark]
    public int EventParser() => _parser.Parse(_batch).Events.Count;
}
