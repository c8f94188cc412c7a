namespace Tally.Core.Configuration;

/// <summary>The configuration cannot be used; <see cref="Setting"/> names the offending setting.</summary>
public sealed class ConfigurationException(string setting, string problem)
    : Exception($"Invalid configuration at '{setting}': {problem}")
{
    public string Setting { get; } = setting;
    public string Problem { get; } = problem;
}
