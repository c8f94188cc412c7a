using Tally.Core.Accept;
using Tally.Core.Configuration;
using Tally.Core.Process;
using Tally.Core.Store;

namespace Tally.Sources.Logs;

/// <summary>Log files into the store through the configured pipeline: one importer per format, and the PKP usageStats loader.</summary>
public sealed class LogImports(TallySchema schema, EventParser parser, EventPipelineFactory pipelines, IEventWriter store, TimeProvider clock)
{
    public LogFileImporter Importer(ILogFormat format) => new(format, pipelines.For, store, clock);

    /// <exception cref="ConfigurationException">sources.pkp is invalid.</exception>
    public PkpLogLoader PkpLoader(string directory)
    {
        var format = PkpLogFormat.Create(schema, parser);
        return new PkpLogLoader(Importer(format), directory, format.TimeZone, clock);
    }
}
