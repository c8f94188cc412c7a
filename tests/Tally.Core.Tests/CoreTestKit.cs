using System.Text;
using Tally.Core.Accept;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Process;

namespace Tally.Core.Tests;

public sealed class FixedClock(DateTime utcNow) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => new(utcNow, TimeSpan.Zero);
}

/// <summary>A salt per day, made on first use, as a store keeps them.</summary>
public sealed class DailySalts : ISaltSource
{
    private readonly Dictionary<DateOnly, byte[]> _salts = [];

    public ValueTask<byte[]> GetSaltAsync(DateOnly day, CancellationToken cancellationToken)
    {
        if (!_salts.TryGetValue(day, out var salt)) _salts[day] = salt = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        return ValueTask.FromResult(salt);
    }
}

public static class CoreTestKit
{
    public static readonly DateTime Now = new(2026, 6, 10, 12, 0, 0, DateTimeKind.Utc);

    public static string SharedFile(params string[] parts)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Tally.sln"))) return Path.Combine([dir.FullName, "..", "shared", .. parts]);
        }
        throw new InvalidOperationException("Tally.sln not found");
    }

    public static TallySchema DefaultSchema(Action<TallyOptions>? change = null)
    {
        var options = DefaultConfiguration.Create();
        change?.Invoke(options);
        return TallySchema.Compile(options);
    }

    public static ParsedBatch Parse(string body, TallySchema? schema = null) =>
        new EventParser(schema ?? DefaultSchema(), new FixedClock(Now)).Parse(Encoding.UTF8.GetBytes(body));

    public static TallyEvent One(string json, TallySchema? schema = null)
    {
        var batch = Parse(json, schema);
        Assert.Empty(batch.Rejections);
        return Assert.Single(batch.Events);
    }
}
