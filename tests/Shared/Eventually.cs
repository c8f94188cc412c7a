namespace Tally.Testing;

/// <summary>Tests wait for what they expect to happen, up to a deadline, never for a fixed time.</summary>
public static class Eventually
{
    /// <exception cref="TimeoutException"><paramref name="done"/> was still false at the deadline (default a minute).</exception>
    public static async Task UntilAsync(Func<Task<bool>> done, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromMinutes(1));
        while (!await done())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("gave up waiting until " + what);
            await Task.Delay(100);
        }
    }

    public static Task UntilAsync(Func<bool> done, string what, TimeSpan? timeout = null) =>
        UntilAsync(() => Task.FromResult(done()), what, timeout);
}
