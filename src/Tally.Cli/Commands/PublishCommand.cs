using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Tally.Amqp;
using Tally.Hosting;
using Tally.Sources.Amqp;
using Tally.Sources.Logs;

namespace Tally.Cli.Commands;

/// <summary>tally publish: hands NDJSON events to RabbitMQ with publisher confirms, for the workers that consume them.</summary>
public static class PublishCommand
{
    private const int BatchSize = 1000;

    public static Command Create()
    {
        var files = new Argument<string[]>("FILE") { Description = "NDJSON files, one message body (a JSON object) per line; - reads standard input", Arity = ArgumentArity.OneOrMore }
            .MustExist();
        var topic = new Option<string>("--topic") { Description = "Routing key of every message, e.g. org.example.prod.repository.record-view", Required = true };
        var uri = new Option<string?>("--amqp") { Description = "Broker, amqp://user:password@host:port/vhost; default sources.amqp.uri from the configuration", HelpName = "URI" };
        var exchange = new Option<string>("--exchange") { Description = "Topic exchange to publish to", DefaultValueFactory = _ => "amq.topic" };
        var command = new Command("publish", "Publish events to a RabbitMQ topic exchange; returns once the broker has confirmed every message. An event's id becomes the message id, so publishing twice stores once")
        {
            files, topic, uri, exchange,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var broker = parse.GetValue(uri);
            try { broker ??= TallyConfiguration.Load(parse.GetValue(CommonOptions.Config)).Sources.Amqp.Uri; }
            catch (Tally.Core.Configuration.ConfigurationException e) { return CommonOptions.Fail(e.Message); }
            if (broker is null) return CommonOptions.Fail("no broker: pass --amqp URI or set sources.amqp.uri");
            AmqpPublisher publisher;
            try { publisher = await AmqpPublisher.ConnectAsync(broker, parse.GetValue(exchange)!, cancellationToken); }
            catch (Exception e) when (e is RabbitMQ.Client.Exceptions.BrokerUnreachableException or UriFormatException or ArgumentException)
            {
                return CommonOptions.Fail($"cannot connect to {broker}: {e.Message}");
            }
            await using (publisher)
            {
                var bad = 0;
                foreach (var path in parse.GetValue(files)!)
                {
                    try
                    {
                        var (published, rejected) = await CommonOptions.WithProgressAsync($"Publishing {Path.GetFileName(path)}",
                            report => PublishFileAsync(publisher, path, parse.GetValue(topic)!, report, cancellationToken));
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{path}: {published:N0} messages confirmed, {rejected:N0} lines not sent"));
                        bad += rejected;
                    }
                    catch (PublishRefusedException e)
                    {
                        return CommonOptions.Fail($"{path}: {e.Message}");
                    }
                }
                return bad > 0 ? 1 : 0;
            }
        });
        return command;
    }

    private static async Task<(long Published, int Rejected)> PublishFileAsync(AmqpPublisher publisher, string path, string topic, Action<double, string> report, CancellationToken cancellationToken)
    {
        await using var stream = path == "-" ? Console.OpenStandardInput() : File.OpenRead(path);
        var total = stream.CanSeek ? stream.Length : 0;
        var batch = new List<OutgoingMessage>(BatchSize);
        long published = 0, line = 0;
        var rejected = 0;
        await foreach (var text in LineReader.ReadAsync(stream, cancellationToken))
        {
            line++;
            if (text.Span.Trim(" \t\r"u8).IsEmpty) continue;
            // The reader's buffer is reused for the next line, so the body is copied once, and read from the copy.
            var body = text.ToArray();
            if (!TryMessageId(body, out var id))
            {
                Console.Error.WriteLine($"{path}:{line}: not a JSON object; not sent");
                rejected++;
                continue;
            }
            batch.Add(new OutgoingMessage(topic, body, id));
            if (batch.Count < BatchSize) continue;
            await publisher.PublishAsync(batch, cancellationToken);
            published += batch.Count;
            batch.Clear();
            report(total == 0 ? 0 : (double)stream.Position / total, string.Create(CultureInfo.InvariantCulture, $"{published:N0} messages"));
        }
        await publisher.PublishAsync(batch, cancellationToken);
        return (published + batch.Count, rejected);
    }

    /// <summary>Whether the line is a JSON object, and its "id" when it has a string one.</summary>
    private static bool TryMessageId(byte[] json, out string? id)
    {
        id = null;
        try
        {
            using var document = JsonDocument.Parse(json);
            if (document.RootElement.ValueKind != JsonValueKind.Object) return false;
            if (document.RootElement.TryGetProperty("id", out var value) && value.ValueKind == JsonValueKind.String) id = value.GetString();
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
