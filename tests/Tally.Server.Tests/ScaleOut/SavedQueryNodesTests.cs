using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Tally.Server.Tests.ScaleOut;

/// <summary>Saved queries on two query nodes, each its own process, over one shared PostgreSQL store.</summary>
public sealed class SavedQueryNodesTests
{
    [Fact]
    public async Task Two_query_nodes_saving_many_queries_at_once_keep_every_one_and_both_list_them_all()
    {
        var root = TestPaths.NewTempDirectory();
        var connection = await SharedDatabase.CreateAsync();
        var config = TestConfig.Write(root, c => c["storage"] = new JsonObject { ["engine"] = "postgres", ["connection"] = connection });
        // The first node sets the store up; the second starts against it.
        using var first = await TallyProcess.ServeAsync(root, Path.Combine(root, "query-1"), config, "--role", "query");
        using var second = await TallyProcess.ServeAsync(root, Path.Combine(root, "query-2"), config, "--role", "query");
        var nodes = new[] { first, second }.Select(node =>
        {
            var client = new HttpClient { BaseAddress = new Uri(node.Url) };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestConfig.WriteKey);
            return client;
        }).ToList();

        var names = Enumerable.Range(0, 200).Select(i => $"q{i:D3}").ToList();
        // Each node saves its first query alone, so that both are warm when the rest arrive at once.
        await SaveAsync(nodes, 0, names[0]);
        await SaveAsync(nodes, 1, names[1]);
        await Task.WhenAll(names.Skip(2).Select((name, i) => Task.Run(() => SaveAsync(nodes, i + 2, name))));

        foreach (var node in nodes)
        {
            var listed = JsonNode.Parse(await node.GetStringAsync("/api/v1/queries"))!.AsArray();
            Assert.Equal(names, listed.Select(q => (string)q!["name"]!));
            Assert.All(listed.Select((q, i) => (Query: q!, Index: i)), entry =>
                Assert.Equal(($"Saved on node {entry.Index % 2 + 1}", $"{entry.Index + 1}"), ((string)entry.Query["title"]!, (string)entry.Query["params"]!["days"]!)));
        }
        foreach (var node in nodes) node.Dispose();
    }

    /// <summary>Saves query number <paramref name="index"/> on node 1 or 2, by turns.</summary>
    private static async Task SaveAsync(List<HttpClient> nodes, int index, string name)
    {
        var body = $$"""{"title":"Saved on node {{index % 2 + 1}}","stat":"record-view-histogram","params":{"days":"{{index + 1}}"},"chart":"line"}""";
        using var response = await nodes[index % 2].PutAsync($"/api/v1/queries/{name}", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }
}
