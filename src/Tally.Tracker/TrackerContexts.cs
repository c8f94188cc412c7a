using System.Collections.Immutable;

namespace Tally.Tracker;

/// <summary>
/// The contexts in force for the current flow of execution. They live in an <see cref="AsyncLocal{T}"/>
/// holding an immutable list, so a context entered before an await or a Task.Run is seen after it and
/// inside it; one entered inside a task does not leak back to its caller; and concurrent requests,
/// each its own flow, never see each other's.
/// </summary>
public sealed class TrackerContexts
{
    private readonly AsyncLocal<ImmutableList<Entry>> _entries = new();

    private ImmutableList<Entry> Entries
    {
        get => _entries.Value ?? [];
        set => _entries.Value = value;
    }

    /// <summary>Enters a named context until <see cref="Exit"/> names it.</summary>
    public void Enter(string name, IReadOnlyDictionary<string, object?> values) => Entries = Entries.Add(new Entry(name, values));

    /// <summary>Leaves the innermost context of that name; the outer values it overrode apply again.</summary>
    public void Exit(string name)
    {
        var entries = Entries;
        for (var i = entries.Count - 1; i >= 0; i--)
        {
            if (entries[i].Name != name) continue;
            Entries = entries.RemoveAt(i);
            return;
        }
    }

    /// <summary>Enters a context for the scope of a <c>using</c>; disposing leaves exactly that context.</summary>
    public IDisposable Scope(string name, IReadOnlyDictionary<string, object?> values)
    {
        var entry = new Entry(name, values);
        Entries = Entries.Add(entry);
        return new Leave(this, entry);
    }

    /// <summary>Every context in force merged, outer to inner: an inner key overrides an outer one.</summary>
    public IReadOnlyDictionary<string, object?> Resolve()
    {
        var entries = Entries;
        if (entries.IsEmpty) return ImmutableDictionary<string, object?>.Empty;
        var size = 0;
        foreach (var entry in entries) size += entry.Values.Length;
        var merged = new Dictionary<string, object?>(size, StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            foreach (var (key, value) in entry.Values) merged[key] = value;
        }
        return merged;
    }

    /// <summary>A context's values are copied to an array on entry, so resolving one for every event neither allocates an enumerator nor sees later changes to the caller's dictionary.</summary>
    private sealed record Entry(string Name, KeyValuePair<string, object?>[] Values)
    {
        public Entry(string name, IReadOnlyDictionary<string, object?> values) : this(name, values.ToArray()) { }
    }

    private sealed class Leave(TrackerContexts contexts, Entry entry) : IDisposable
    {
        private bool _left;

        public void Dispose()
        {
            if (_left) return;
            _left = true;
            // By identity, so a scope left out of order removes itself and nothing else.
            contexts.Entries = contexts.Entries.Remove(entry, ReferenceEqualityComparer.Instance);
        }
    }
}
