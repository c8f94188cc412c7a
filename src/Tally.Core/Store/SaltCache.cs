namespace Tally.Core.Store;

/// <summary>
/// The salts a store has handed out today. A store records a salt's last use whenever it reads one
/// from storage, so keeping salts cached only until the UTC date changes means each salt's use is
/// written once a day, not once per event, and retention can count a salt's life from its last use.
/// </summary>
public sealed class SaltCache
{
    private readonly Dictionary<DateOnly, byte[]> _salts = [];
    private readonly Lock _lock = new();
    private DateOnly _usedOn = Today;

    /// <summary>The UTC date that stores record as a salt's last use.</summary>
    public static DateOnly Today => DateOnly.FromDateTime(DateTime.UtcNow);

    /// <summary>The day's salt if its use has been recorded today; null when the store must read it (and record the use).</summary>
    public byte[]? Get(DateOnly day)
    {
        lock (_lock)
        {
            if (_usedOn != Today)
            {
                _salts.Clear();
                _usedOn = Today;
            }
            return _salts.GetValueOrDefault(day);
        }
    }

    /// <summary>Remembers a salt whose use the store has just recorded.</summary>
    public byte[] Put(DateOnly day, byte[] salt)
    {
        lock (_lock) _salts[day] = salt;
        return salt;
    }

    /// <summary>Forgets every salt, after a purge deleted some.</summary>
    public void Clear()
    {
        lock (_lock) _salts.Clear();
    }
}
