using System.Buffers;
using System.Text;
using System.Text.Json;
using Tally.Core.Accept;
using Tally.Core.Configuration;
using Tally.Core.Store;

namespace Tally.Core.Tests;

/// <summary>What an ingest node hands a worker, and how stores are named on the command line.</summary>
public sealed class ScaleOutTests
{
    [Fact]
    public void An_accepted_event_written_for_a_worker_parses_back_to_the_same_event()
    {
        var schema = CoreTestKit.DefaultSchema();
        var parser = new EventParser(schema, new FixedClock(CoreTestKit.Now));
        var sent = parser.Parse(Encoding.UTF8.GetBytes("""
            {"type":"file-download","item_id":"ü \"q\" \\ x","size":-5,"ip":"192.0.2.1","colour":"red","tags":[1,{"a":null}],"n":1.5e300}
            {"type":"record-view","id":"given","timestamp":"2026-06-09T23:59:59.999Z","item_id":"b"}
            """)).Events;
        Assert.Equal(2, sent.Count);

        var body = new ArrayBufferWriter<byte>();
        EventJson.WriteLines(body, sent);
        var received = new EventParser(schema, new FixedClock(CoreTestKit.Now.AddMinutes(3))).Parse(body.WrittenSpan);
        Assert.Empty(received.Rejections);
        for (var i = 0; i < sent.Count; i++)
        {
            var (was, got) = (sent[i], received.Events[i]);
            Assert.Equal((was.Id, was.Type, was.Timestamp), (got.Id, got.Type, got.Timestamp));
            Assert.Equal(was.Values, got.Values);
            Assert.Equal(was.Extra is null, got.Extra is null);
            if (was.Extra is not null) Assert.True(JsonElement.DeepEquals(JsonDocument.Parse(was.Extra).RootElement, JsonDocument.Parse(got.Extra!).RootElement));
        }
        Assert.Equal("given", received.Events[1].Id);
    }

    [Theory]
    [InlineData("sqlite:./data", "sqlite", "./data")]
    [InlineData("postgres:Host=db;Database=tally;Password=s3cret", "postgres", "Host=db;Database=tally;Password=s3cret")]
    [InlineData("clickhouse:http://ch1:8123/?database=tally&cluster=c&shards=ch1:8123,ch2:8123", "clickhouse", "http://ch1:8123/?database=tally&cluster=c&shards=ch1:8123,ch2:8123")]
    public void Store_locations_name_an_engine_and_a_connection(string text, string engine, string connection)
    {
        Assert.Equal(new StoreLocation(engine, connection), StoreLocation.Parse(text, "--store"));
    }

    [Theory]
    [InlineData("mysql:x", "does not start with one of sqlite:, duckdb:, postgres:, clickhouse:")]
    [InlineData("postgres:", "needs a connection")]
    [InlineData("sqlite", "needs a connection")]
    public void A_bad_store_location_names_the_option_and_the_problem(string text, string problem)
    {
        var error = Assert.Throws<ConfigurationException>(() => StoreLocation.Parse(text, "--from"));
        Assert.Equal("--from", error.Setting);
        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("postgres:Host=db;Password=s3cret;Database=t", "postgres:Host=db;Password=***;Database=t")]
    [InlineData("postgres:host=db;pwd = s3cret", "postgres:host=db;pwd = ***")]
    [InlineData("clickhouse:http://tally:s3cret@ch1:8123/?database=t", "clickhouse:http://tally:***@ch1:8123/?database=t")]
    [InlineData("clickhouse:http://ch1:8123/?database=t&password=s3cret", "clickhouse:http://ch1:8123/?database=t&password=***")]
    public void A_printed_store_location_hides_its_password(string text, string printed)
    {
        Assert.Equal(printed, StoreLocation.Parse(text, "--store").ToString());
        Assert.DoesNotContain("s3cret", printed, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("oracle", "storage.engine")]
    [InlineData("postgres", "storage.connection")]
    public void Storage_configuration_is_checked_when_loaded(string engine, string setting)
    {
        var error = Assert.Throws<ConfigurationException>(() => CoreTestKit.DefaultSchema(o => o.Storage.Engine = engine));
        Assert.Equal(setting, error.Setting);
    }
}

/// <summary>Text no store can keep is refused when it arrives, with the field named, and the rest of the batch kept.</summary>
public sealed class NulCharacterTests
{
    [Fact]
    public void A_NUL_in_a_field_an_id_or_an_undeclared_field_is_rejected_naming_it_and_the_other_events_are_kept()
    {
        var parser = new EventParser(CoreTestKit.DefaultSchema(), new FixedClock(CoreTestKit.Now));
        var batch = parser.Parse(Encoding.UTF8.GetBytes("""
            {"type":"record-view","item_id":"a\u0000b"}
            {"type":"record-view","id":"x\u0000","item_id":"a"}
            {"type":"record-view","item_id":"b","note":{"deep":"extra \u0000"}}
            {"type":"record-view","item_id":"fine","note":"no NUL here"}
            """));
        Assert.Equal([(0, "item_id"), (1, "id"), (2, "note")], batch.Rejections.Select(r => (r.Index, r.Field)));
        Assert.All(batch.Rejections, r => Assert.Contains("NUL", r.Reason, StringComparison.Ordinal));
        Assert.Equal("fine", Assert.Single(batch.Events)["item_id"]);
    }
}
