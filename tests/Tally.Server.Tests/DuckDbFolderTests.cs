namespace Tally.Server.Tests;

/// <summary>DuckDB lets one process at a time open a data folder: another is told which folder is in use.</summary>
public sealed class DuckDbFolderTests
{
    [Fact]
    public async Task A_second_process_on_a_duckdb_folder_is_told_the_folder_is_in_use()
    {
        var root = TestPaths.NewTempDirectory();
        var data = Path.Combine(root, "data");
        var config = TestConfig.Write(root);
        using var server = await TallyProcess.ServeAsync(root, data, config, "--store", $"duckdb:{data}");

        var (exitCode, _, error) = await TallyProcess.RunAsync(root, "aggregate", "--store", $"duckdb:{data}", "--config", config);
        Assert.NotEqual(0, exitCode);
        Assert.Contains($"the data folder {data} is in use by another Tally process", error);
    }
}
