using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Tally.Hosting;
using Tally.Server.Hosting;

namespace Tally.Server.Tests;

/// <summary>A real Tally server on a free loopback port over a real SQLite file in a temp folder.</summary>
public sealed class TallyHost : IAsyncDisposable
{
    private TallyHost(string dataDirectory, string configPath, WebApplication app)
    {
        DataDirectory = dataDirectory;
        ConfigPath = configPath;
        App = app;
        Client = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
    }

    public string DataDirectory { get; }
    public string ConfigPath { get; }
    public WebApplication App { get; }
    public HttpClient Client { get; }

    /// <summary>One of the server's services, as its endpoints receive them.</summary>
    public T Get<T>() where T : notnull => App.Services.GetRequiredService<T>();

    public static async Task<TallyHost> StartAsync(Action<JsonObject>? configure = null, string? dataDirectory = null)
    {
        var root = dataDirectory ?? TestPaths.NewTempDirectory();
        var config = TestConfig.Write(root, configure);
        var app = await TallyServer.BuildAsync(new TallyHostOptions(Path.Combine(root, "data"), config), "http://127.0.0.1:0");
        await app.StartAsync();
        return new TallyHost(root, config, app);
    }

    /// <summary>Stops this server and starts a new one over the same folder, as a restart would.</summary>
    public async Task<TallyHost> RestartAsync()
    {
        await StopKeepingDataAsync();
        return await StartAsync(dataDirectory: DataDirectory);
    }

    /// <summary>Stops the server but leaves its folder for another process or host to open.</summary>
    public Task StopKeepingDataAsync()
    {
        _ownsDirectory = false;
        return StopAsync();
    }

    public Task<HttpResponseMessage> PostEventsAsync(string body, string key = TestConfig.WriteKey, string contentType = "application/json")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/events") { Content = new StringContent(body, Encoding.UTF8, contentType) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return Client.SendAsync(request);
    }

    public async Task AggregateAsync(string query = "")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/admin/aggregate" + query);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestConfig.AdminKey);
        using var response = await Client.SendAsync(request);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
    }

    public async Task<JsonElement> GetJsonAsync(string path)
    {
        using var response = await Client.GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{path} answered {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>How many events the raw API holds for the last hour.</summary>
    public async Task<int> RecentEventCountAsync() =>
        (await GetJsonAsync("/api/v1/events?delta=3600")).GetProperty("total").GetInt32();

    private bool _stopped;
    private bool _ownsDirectory = true;

    private async Task StopAsync()
    {
        if (_stopped) return;
        _stopped = true;
        Client.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        SqliteConnection.ClearAllPools();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        if (!_ownsDirectory) return;
        try { Directory.Delete(DataDirectory, recursive: true); }
        catch (IOException) { }
    }
}
