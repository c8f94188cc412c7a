using Tally.Core.Configuration;
using Tally.Core.Events;

namespace Tally.Core.Tests;

public sealed class ConfigurationTests
{
    [Fact]
    public void The_default_has_record_view_and_file_download_with_the_usage_fields()
    {
        var schema = TallySchema.Compile(DefaultConfiguration.Create());
        foreach (var name in new[] { "record-view", "file-download" })
        {
            var type = schema.EventTypes[name];
            Assert.True(type.Field("item_id")!.Required);
            foreach (var optional in new[] { "title_id", "url", "ip", "user_agent", "user_id", "session_id", "referrer", "size" })
                Assert.False(type.Field(optional)!.Required);
            Assert.Equal(FieldType.Integer, type.Field("size")!.Type);
        }
    }

    [Fact]
    public void The_tally_section_of_appsettings_is_read_too()
    {
        var options = ConfigurationReader.Parse("""{"Logging":{"LogLevel":{"Default":"Information"}},"Tally":{"apiKeys":[{"name":"a","key":"0123456789abcdef0123","role":"admin"}]}}""");
        Assert.Equal(ApiRole.Admin, TallySchema.Compile(options).ApiKeys["0123456789abcdef0123"]);
    }

    [Theory]
    [InlineData("""{"colour":"blue"}""", "colour")]
    [InlineData("""{"eventTypes":[{"name":"x","partition":"week","fields":{"item_id":{}}}]}""", "eventTypes[0].partition")]
    [InlineData("""{"eventTypes":[{"name":"x","fields":{"n":{"type":"decimal"}}}]}""", "eventTypes[0].fields.n.type")]
    [InlineData("""{"eventTypes":[{"name":"Bad Name","fields":{}}]}""", "eventTypes[0].name")]
    [InlineData("""{"eventTypes":[{"name":"x","fields":{}},{"name":"x","fields":{}}]}""", "eventTypes[1].name")]
    [InlineData("""{"eventTypes":[{"name":"x","fields":{},"pipeline":[{"step":"teleport"}]}]}""", "eventTypes[0].pipeline[0].step")]
    [InlineData("""{"eventTypes":[{"name":"x","fields":{},"pipeline":[{"step":"filter","deny":["(oops"]}]}]}""", "eventTypes[0].pipeline[0].deny[0]")]
    [InlineData("""{"aggregations":[{"name":"a","eventType":"nope"}]}""", "aggregations[0].eventType")]
    [InlineData("""{"aggregations":[{"name":"a","eventType":"record-view","groupBy":["nope"]}]}""", "aggregations[0].groupBy[0]")]
    [InlineData("""{"queries":[{"name":"q","aggregation":"nope"}]}""", "queries[0].aggregation")]
    [InlineData("""{"queries":[{"name":"q","aggregation":"record-view-agg","metric":"median"}]}""", "queries[0].metric")]
    [InlineData("""{"apiKeys":[{"name":"k","key":"short"}]}""", "apiKeys[0].key")]
    [InlineData("""{"apiKeys":[{"name":"k","key":"0123456789abcdef0123","role":"root"}]}""", "apiKeys[0].role")]
    public void An_invalid_setting_is_named(string json, string setting)
    {
        var error = Assert.Throws<ConfigurationException>(() => TallySchema.Compile(ConfigurationReader.Parse(json)));
        Assert.Equal(setting, error.Setting);
    }
}
