using Tally.Core.Configuration;

namespace Tally.Core.Process;

/// <summary>
/// The configured pipeline over a given salt source: the store's own for live ingest, or a file import's
/// transaction, whose salts for new days are made inside it so processing never waits on the store.
/// </summary>
public sealed class EventPipelineFactory(TallySchema schema, RobotList robots, IGeoLookup geo)
{
    public EventPipeline For(ISaltSource salts) => EventPipeline.FromSchema(schema, robots, salts, geo);
}
