namespace Tally.Core.Configuration;

/// <summary>A customer of the platform, to which usage from its IP ranges is attributed.</summary>
public sealed record Institution(string CustomerId, string Name, IReadOnlyDictionary<string, IReadOnlyList<string>> Ids)
{
    /// <summary>COUNTER's customer id for all usage, whoever it is attributed to.</summary>
    public const string TheWorld = "0000000000000000";
}
