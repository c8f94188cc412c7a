using BenchmarkDotNet.Attributes;
using Tally.Bench;
using Tally.Core.Accept;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Process;
using Tally.Hosting;

namespace Tally.Benchmarks;

/// <summary>The per-event processors: robot matching (cached and uncached) and anonymization.</summary>
[MemoryDiagnoser]
public class ProcessBenchmarks
{
    private List<TallyEvent> _events = [];
    private RobotList _robots = null!;
    private EventPipeline _anonymize = null!;
    private string[] _userAgents = [];
    private int _round;

    private sealed class FixedSalts : ISaltSource
    {
        private readonly byte[] _salt = new byte[32];

        public ValueTask<byte[]> GetSaltAsync(DateOnly day, CancellationToken cancellationToken) => ValueTask.FromResult(_salt);
    }

    [GlobalSetup]
    public void Setup()
    {
        var options = DefaultConfiguration.Create();
        // Anonymization alone: as non-COUNTER types, which need no robot-flag step.
        foreach (var type in options.EventTypes) (type.Pipeline, type.Counter) = ([new PipelineStepOptions { Step = "anonymize" }], "none");
        var schema = TallySchema.Compile(options);
        _events = new EventParser(schema, TimeProvider.System).Parse(DemoWorkload.OneBatch().Span).Events;
        _robots = TallyConfiguration.LoadRobots(DefaultConfiguration.Create()).Matcher;
        _anonymize = EventPipeline.FromSchema(schema, _robots, new FixedSalts());
        _userAgents = Enumerable.Range(0, 5000).Select(i => $"Mozilla/5.0 (X11; Linux x86_64; rv:{i}.0) Gecko/20100101 Firefox/{i}.0").ToArray();
    }

    /// <summary>Distinct agents each time, so every call runs the combined regex.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = 5000)]
    public int RobotMatchFreshAgents()
    {
        var robots = 0;
        foreach (var ua in _userAgents) robots += _robots.IsRobot(ua + _round) ? 1 : 0;
        _round++;
        return robots;
    }

    [Benchmark(OperationsPerInvoke = 5000)]
    public int RobotMatchRepeatedAgents()
    {
        var robots = 0;
        for (var i = 0; i < 5000; i++) robots += _robots.IsRobot(_userAgents[i % 50]) ? 1 : 0;
        return robots;
    }

    [Benchmark]
    public async Task<int> AnonymizeBatch() => (await _anonymize.ProcessAsync(_events, CancellationToken.None)).Count;
}
