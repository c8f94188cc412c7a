using System.Diagnostics;
using System.Text.Json.Nodes;
using RabbitMQ.Client;

namespace Tally.Server.Tests.Bus;

/// <summary>Tests that share the one RabbitMQ broker ./test starts run one at a time, as one restarts it.</summary>
[CollectionDefinition(Name)]
public sealed class BrokerCollection
{
    public const string Name = "RabbitMQ broker";
}

/// <summary>The real RabbitMQ broker that ./test starts (scripts/rabbitmq.sh) and describes in TALLY_TEST_* variables.</summary>
public static class Broker
{
    public static string Uri => Environment.GetEnvironmentVariable("TALLY_TEST_AMQP_URI")
        ?? throw new InvalidOperationException("TALLY_TEST_AMQP_URI is not set: run the tests with ./test, which starts RabbitMQ");

    /// <summary>A queue name no other test uses, so leftovers of one test never reach another.</summary>
    public static string NewQueue() => "tally-test-" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>Adds the message type, the queue and the topic mappings to a test configuration.</summary>
    public static Action<JsonObject> Configure(string queue, string bindings = "org.example.#", string? uri = null) => config =>
    {
        config["eventTypes"]!.AsArray().Add(new JsonObject
        {
            ["name"] = "message",
            ["partition"] = "month",
            ["fields"] = new JsonObject
            {
                ["topic"] = new JsonObject { ["required"] = true },
                ["category"] = new JsonObject(),
                ["message_id"] = new JsonObject(),
            },
        });
        config["sources"] = new JsonObject
        {
            ["amqp"] = new JsonObject
            {
                ["uri"] = uri ?? Uri,
                ["prefetch"] = 200,
                ["queues"] = new JsonArray(new JsonObject { ["name"] = queue, ["bindings"] = new JsonArray(bindings) }),
                ["topics"] = new JsonArray(
                    new JsonObject { ["topic"] = "org.example.*.repository.record-view", ["type"] = "record-view" },
                    new JsonObject { ["topic"] = "org.example.*.repository.file-download", ["type"] = "file-download" }),
            },
        };
    };

    /// <summary>rabbitmqctl against the test broker, e.g. stop_app and start_app; returns what it printed.</summary>
    public static async Task<string> ControlAsync(params string[] arguments)
    {
        var ctl = Environment.GetEnvironmentVariable("TALLY_TEST_RABBITMQCTL")
            ?? throw new InvalidOperationException("TALLY_TEST_RABBITMQCTL is not set: run the tests with ./test, which starts RabbitMQ");
        var info = new ProcessStartInfo(ctl) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        if (process.ExitCode != 0) throw new InvalidOperationException($"rabbitmqctl {string.Join(' ', arguments)} failed: {await output}{await error}");
        return await output;
    }

    /// <summary>
    /// Waits until the queue holds no message, neither ready nor unacknowledged. Consumers acknowledge
    /// only after the store committed, so from then on what the store holds is final.
    /// </summary>
    public static Task WaitForDrainedAsync(string queue) => Eventually.UntilAsync(async () =>
    {
        var listing = await ControlAsync("list_queues", "--quiet", "--no-table-headers", "name", "messages");
        return listing.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split('\t'))
            .Any(columns => columns.Length == 2 && columns[0] == queue && columns[1] == "0");
    }, $"queue {queue} holds no message", TimeSpan.FromSeconds(90));

    /// <summary>Waits until the queue exists with this many consumers, so that what is published next is shared among them.</summary>
    public static async Task WaitForConsumersAsync(string queue, int consumers)
    {
        var factory = new ConnectionFactory { Uri = new System.Uri(Uri) };
        await using var connection = await factory.CreateConnectionAsync();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            await using var channel = await connection.CreateChannelAsync();
            try
            {
                if (await channel.ConsumerCountAsync(queue) >= consumers) return;
            }
            catch (RabbitMQ.Client.Exceptions.OperationInterruptedException)
            {
                // The queue is not declared yet; the channel closed, so a new one is opened.
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"queue {queue} did not get {consumers} consumer(s)");
            await Task.Delay(100);
        }
    }
}
