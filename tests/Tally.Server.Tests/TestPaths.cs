namespace Tally.Server.Tests;

/// <summary>Where the repository, ../shared and scratch folders are, wherever the tests run from.</summary>
public static class TestPaths
{
    public static string RepositoryRoot { get; } = FindRoot();

    public static string CounterRobots => Path.Combine(RepositoryRoot, "..", "shared", "data", "counter-robots", "COUNTER_Robots_list.json");

    /// <summary>The built `tally` program, copied beside the tests by the project reference.</summary>
    public static string TallyDll => Path.Combine(AppContext.BaseDirectory, "tally.dll");

    public static string NewTempDirectory() => Directory.CreateTempSubdirectory("tally-test-").FullName;

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Tally.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException("Tally.sln not found above " + AppContext.BaseDirectory);
    }
}
