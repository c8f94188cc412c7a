namespace Tally.Hosting;

/// <summary>
/// What one serve process does when Tally runs scaled out. Ingest nodes accept events and queue
/// them; workers consume the queue, process, store and run the scheduled jobs; query nodes serve
/// the API and dashboard. All does everything in one process, writing straight to the store.
/// </summary>
public enum ServerRole { All, Ingest, Worker, Query }

public static class ServerRoles
{
    public static bool Accepts(this ServerRole role) => role is ServerRole.All or ServerRole.Ingest;

    public static bool Queries(this ServerRole role) => role is ServerRole.All or ServerRole.Query;

    /// <summary>Consumes the queue and the configured sources, and runs aggregation, retention and log loading.</summary>
    public static bool Works(this ServerRole role) => role is ServerRole.All or ServerRole.Worker;
}
