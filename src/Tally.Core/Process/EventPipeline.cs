using Tally.Core.Configuration;
using Tally.Core.Events;

namespace Tally.Core.Process;

/// <summary>Runs each event through its type's ordered processors; events a processor drops are left out.</summary>
public sealed class EventPipeline
{
    private readonly Dictionary<EventType, IEventProcessor[]> _byType;

    public EventPipeline(IReadOnlyDictionary<EventType, IEventProcessor[]> byType)
    {
        _byType = new Dictionary<EventType, IEventProcessor[]>(byType);
    }

    /// <summary>Builds each type's processors from its configured pipeline steps. A geo step needs <paramref name="geo"/>.</summary>
    public static EventPipeline FromSchema(TallySchema schema, RobotList robots, ISaltSource salts, IGeoLookup? geo = null)
    {
        var cityLevel = schema.Options.Geo.Level == "city";
        var byType = schema.EventTypes.Values.ToDictionary(t => t, t =>
        {
            var steps = schema.PipelineOf(t);
            var processors = steps.Select(step => (IEventProcessor)(step.Step switch
            {
                "filter" => new TypeFilterProcessor(step.Allow, step.Deny),
                "robot-flag" => new RobotFlagProcessor(robots),
                "institution" => new InstitutionProcessor(schema.InstitutionRanges),
                "geo" => new GeoProcessor(geo ?? throw new ConfigurationException("geo.database", "a 'geo' step needs a geo database, and none is loaded"), cityLevel),
                "anonymize" => new AnonymizeProcessor(salts, step.KeepIp, step.KeepUserAgent),
                _ => throw new ConfigurationException($"eventTypes[{t.Name}].pipeline", $"unknown step '{step.Step}'"),
            }));
            var guarded = schema.Options.Privacy.StoreIpAddresses || steps.Any(step => step.Step == "anonymize");
            return (guarded ? processors : processors.Append(new IdentityGuardProcessor(t))).ToArray();
        });
        return new EventPipeline(byType);
    }

    /// <summary>Processes the batch in place and returns the events that survive, with their positions in the input.</summary>
    public async ValueTask<IReadOnlyList<int>> ProcessAsync(IReadOnlyList<TallyEvent> batch, CancellationToken cancellationToken)
    {
        foreach (var processors in _byType.Values)
            foreach (var processor in processors)
                await processor.PrepareAsync(batch, cancellationToken);

        var kept = new List<int>(batch.Count);
        for (var i = 0; i < batch.Count; i++)
        {
            if (Survives(batch[i])) kept.Add(i);
        }
        return kept;
    }

    private bool Survives(TallyEvent e)
    {
        if (!_byType.TryGetValue(e.Type, out var processors)) return true;
        foreach (var processor in processors)
        {
            if (!processor.Process(e)) return false;
        }
        return true;
    }
}
