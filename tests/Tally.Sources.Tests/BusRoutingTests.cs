using System.Text;
using System.Text.Json;
using Tally.Amqp;
using Tally.Core.Accept;
using Tally.Core.Configuration;
using Tally.Core.Tests;
using Tally.Sources.Amqp;

namespace Tally.Sources.Tests;

public sealed class BusRoutingTests
{
    private static readonly DateTime Received = CoreTestKit.Now;

    private static BusRouting Routing(Action<AmqpSourceOptions>? change = null)
    {
        var schema = CoreTestKit.DefaultSchema(o =>
        {
            o.Sources.Amqp.Topics.Add(new TopicRuleOptions { Topic = "org.example.*.repository.record-view", Type = "record-view" });
            change?.Invoke(o.Sources.Amqp);
        });
        return BusRouting.Compile(schema, new EventParser(schema, new FixedClock(Received)));
    }

    private static BusMessage Message(string topic, string body, string? id = null, DateTime? sent = null, string? headers = null) =>
        new(topic, id, sent, headers, Encoding.UTF8.GetBytes(body));

    [Theory]
    [InlineData("org.fedoraproject.prod.bodhi.update.comment", "bodhi")]
    [InlineData("org.fedoraproject.prod.git.receive", "git")]
    [InlineData("/topic/VirtualTopic.eng.ci.koji-build.test.complete", "ci")]
    [InlineData("short.topic", BusRouting.Unclassified)]
    [InlineData("a.b.c..e", BusRouting.Unclassified)]
    public void The_category_is_the_application_segment_as_datanommer_has_it(string topic, string category) =>
        Assert.Equal(category, Routing().CategoryOf(topic));

    [Fact]
    public void Every_message_is_kept_with_its_topic_category_id_headers_and_body()
    {
        var sent = Received.AddMinutes(-5);
        var routed = Routing().Route(Message("org.fedoraproject.prod.bodhi.update", """{"update":42}""", "m-1", sent, """{"priority":0}"""), Received);

        Assert.Null(routed.Usage);
        Assert.Null(routed.UsageRejection);
        var message = routed.Message;
        Assert.Equal("message", message.Type.Name);
        Assert.Equal("amqp:m-1", message.Id);
        Assert.Equal(sent, message.Timestamp);
        Assert.Equal("org.fedoraproject.prod.bodhi.update", message["topic"]);
        Assert.Equal("bodhi", message["category"]);
        Assert.Equal("m-1", message["message_id"]);
        using var extra = JsonDocument.Parse(message.Extra!);
        Assert.Equal(0, extra.RootElement.GetProperty("headers").GetProperty("priority").GetInt32());
        Assert.Equal(42, extra.RootElement.GetProperty("body").GetProperty("update").GetInt32());
    }

    [Fact]
    public void A_body_that_is_not_json_is_kept_as_text_or_base64()
    {
        var routing = Routing();
        using var text = JsonDocument.Parse(routing.Route(Message("a.b.c.d", "plain words"), Received).Message.Extra!);
        Assert.Equal("plain words", text.RootElement.GetProperty("body").GetString());

        var binary = new BusMessage("a.b.c.d", "bin", null, null, new byte[] { 0xff, 0x00, 0xfe });
        using var kept = JsonDocument.Parse(routing.Route(binary, Received).Message.Extra!);
        Assert.Equal(new byte[] { 0xff, 0x00, 0xfe }, kept.RootElement.GetProperty("body").GetProperty("base64").GetBytesFromBase64());
    }

    [Fact]
    public void A_message_without_an_id_is_named_by_its_content_so_a_redelivery_is_recognised()
    {
        var routing = Routing();
        var first = routing.Route(Message("a.b.c.d", "same"), Received).Message.Id;
        Assert.StartsWith("amqp:sha256-", first);
        Assert.Equal(first, routing.Route(Message("a.b.c.d", "same"), Received.AddHours(1)).Message.Id);
        Assert.NotEqual(first, routing.Route(Message("a.b.c.e", "same"), Received).Message.Id);
        Assert.NotEqual(first, routing.Route(Message("a.b.c.d", "other"), Received).Message.Id);
    }

    [Fact]
    public void A_publisher_clock_in_the_future_does_not_date_a_message_in_the_future()
    {
        var routed = Routing().Route(Message("a.b.c.d", "{}", "m", Received.AddDays(2)), Received);
        Assert.Equal(Received, routed.Message.Timestamp);
    }

    [Fact]
    public void A_mapped_topic_also_becomes_a_usage_event_of_its_type()
    {
        var body = """{"item_id":"rec-7","user_agent":"Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"}""";
        var routed = Routing().Route(Message("org.example.prod.repository.record-view", body, "m-7", Received.AddSeconds(-3)), Received);

        var usage = Assert.IsType<Core.Events.TallyEvent>(routed.Usage);
        Assert.Equal("record-view", usage.Type.Name);
        Assert.Equal("rec-7", usage["item_id"]);
        Assert.Equal("amqp:m-7/event", usage.Id);
        Assert.Equal(Received.AddSeconds(-3), usage.Timestamp);
        Assert.Equal("repository", routed.Message["category"]);
    }

    [Fact]
    public void A_body_that_gives_its_own_event_id_keeps_it_without_colliding_with_the_message()
    {
        var routed = Routing().Route(Message("org.example.prod.repository.record-view", """{"id":"e-1","item_id":"r"}""", "e-1"), Received);
        Assert.Equal("e-1", routed.Usage!.Id);
        Assert.Equal("amqp:e-1", routed.Message.Id);
    }

    [Fact]
    public void A_mapped_message_whose_body_is_not_an_event_is_still_stored_and_says_why()
    {
        var routed = Routing().Route(Message("org.example.prod.repository.record-view", """{"user_id":"u"}""", "m-8"), Received);
        Assert.Null(routed.Usage);
        Assert.Equal("item_id", routed.UsageRejection!.Field);
        Assert.Equal("amqp:m-8", routed.Message.Id);
    }

    [Theory]
    [InlineData("nope", "sources.amqp.messageType")]
    [InlineData("record-view", "sources.amqp.messageType")]
    public void The_message_type_must_exist_and_have_the_datanommer_fields(string messageType, string field)
    {
        var e = Assert.Throws<ConfigurationException>(() => Routing(a => a.MessageType = messageType));
        Assert.Contains(field, e.Message);
    }

    [Fact]
    public void Bad_topic_rules_and_a_uri_without_queues_are_named_in_the_error()
    {
        Assert.Contains("sources.amqp.topics[1].type", Assert.Throws<ConfigurationException>(() =>
            Routing(a => a.Topics.Add(new TopicRuleOptions { Topic = "x.#", Type = "missing" }))).Message);
        Assert.Contains("sources.amqp.topics[1].topic", Assert.Throws<ConfigurationException>(() =>
            Routing(a => a.Topics.Add(new TopicRuleOptions { Topic = "x.#y", Type = "record-view" }))).Message);
        Assert.Contains("sources.amqp.queues", Assert.Throws<ConfigurationException>(() =>
            Routing(a => a.Uri = "amqp://127.0.0.1/")).Message);
        Assert.Contains("sources.amqp.uri", Assert.Throws<ConfigurationException>(() =>
            Routing(a => a.Uri = "http://127.0.0.1:5672/")).Message);
        Assert.Contains("sources.amqp.queues[0].bindings[0]", Assert.Throws<ConfigurationException>(() =>
            Routing(a => a.Queues.Add(new AmqpQueueOptions { Name = "q", Bindings = ["a.b*"] }))).Message);
    }

    [Theory]
    [InlineData("a.b.c", "a.b.c", true)]
    [InlineData("a.*.c", "a.b.c", true)]
    [InlineData("a.*.c", "a.b.b.c", false)]
    [InlineData("a.#", "a", true)]
    [InlineData("a.#", "a.b.c", true)]
    [InlineData("#.c", "a.b.c", true)]
    [InlineData("#", "anything.at.all", true)]
    [InlineData("a.#.d", "a.d", true)]
    [InlineData("a.#.d", "a.b.c.d", true)]
    [InlineData("a.#.d", "a.b.c", false)]
    [InlineData("*", "a.b", false)]
    [InlineData("a.b", "a.b.c", false)]
    public void Topic_patterns_match_as_amqp_topic_exchanges_do(string pattern, string topic, bool matches) =>
        Assert.Equal(matches, new TopicPattern(pattern).Matches(topic));
}
