using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Tally.Core.Events;

namespace Tally.Core.Tests.Counter;

public static class MetadataArbitraries
{
    private static readonly DateTime T0 = new(2026, 6, 9, 10, 0, 0, DateTimeKind.Utc);

    // Few values and few instants, so that records often disagree and often tie.
    private static readonly Gen<string?> Value = Gen.Frequency((2, Gen.Constant<string?>(null)), (1, Gen.Elements<string?>("a", "b", "c")));
    private static readonly Gen<DateTime> Instant = Gen.Choose(0, 3).Select(m => T0.AddMinutes(m));

    private static readonly Gen<ItemMetadata> Records =
        from at in Instant
        from values in Gen.ArrayOf(Value, ItemMetadataTests.FieldCount)
        select ItemMetadataTests.Make(at, values);

    public static Arbitrary<ItemMetadata> Metadata() => Records.ToArbitrary();

    /// <summary>Two records stated at different times.</summary>
    public static Arbitrary<(ItemMetadata, ItemMetadata)> Pairs() =>
        (from a in Records
         from b in Records
         where a.UpdatedAt != b.UpdatedAt
         select (a, b)).ToArbitrary();

    /// <summary>Three records stated at three different times.</summary>
    public static Arbitrary<(ItemMetadata, ItemMetadata, ItemMetadata)> Triples() =>
        (from a in Records
         from b in Records
         from c in Records
         where a.UpdatedAt != b.UpdatedAt && b.UpdatedAt != c.UpdatedAt && a.UpdatedAt != c.UpdatedAt
         select (a, b, c)).ToArbitrary();
}

/// <summary>Item metadata merges: newer statements win, older ones fill gaps, arrival order does not matter.</summary>
public sealed class ItemMetadataTests
{
    public const int FieldCount = 13;

    public static ItemMetadata Make(DateTime at, IReadOnlyList<string?> v) => new()
    {
        Id = "item1",
        UpdatedAt = at,
        Name = v[0], DataType = v[1], Doi = v[2], Isbn = v[3], PrintIssn = v[4], OnlineIssn = v[5], Uri = v[6],
        Publisher = v[7], Yop = v[8], ParentId = v[9], Authors = v[10], PublicationDate = v[11], ArticleVersion = v[12],
    };

    private static string?[] Fields(ItemMetadata m) =>
        [m.Name, m.DataType, m.Doi, m.Isbn, m.PrintIssn, m.OnlineIssn, m.Uri, m.Publisher, m.Yop, m.ParentId, m.Authors, m.PublicationDate, m.ArticleVersion];

    private static readonly DateTime Monday = new(2026, 6, 8, 9, 0, 0, DateTimeKind.Utc);

    [Fact]
    public void Newer_values_win_and_older_values_fill_gaps()
    {
        var older = new ItemMetadata { Id = "a1", UpdatedAt = Monday, Name = "Old name", Doi = "10.1/x", Yop = "2020" };
        var newer = new ItemMetadata { Id = "a1", UpdatedAt = Monday.AddDays(1), Name = "New name", Publisher = "ACME" };

        foreach (var merged in new[] { older.MergedWith(newer), newer.MergedWith(older) })
        {
            Assert.Equal(("New name", "10.1/x", "2020", "ACME"), (merged.Name, merged.Doi, merged.Yop, merged.Publisher));
            Assert.Equal(Monday.AddDays(1), merged.UpdatedAt);
            Assert.Equal("a1", merged.Id);
        }
    }

    [Property(Arbitrary = [typeof(MetadataArbitraries)], MaxTest = 500)]
    public void Each_field_is_the_newer_records_value_else_the_older_ones((ItemMetadata, ItemMetadata) pair)
    {
        var (a, b) = pair;
        var (newer, older) = a.UpdatedAt > b.UpdatedAt ? (a, b) : (b, a);
        var merged = a.MergedWith(b);
        Assert.Equal(Fields(newer).Zip(Fields(older), (n, o) => n ?? o), Fields(merged));
        Assert.Equal(newer.UpdatedAt, merged.UpdatedAt);
    }

    [Property(Arbitrary = [typeof(MetadataArbitraries)], MaxTest = 500)]
    public void Merging_two_records_stated_at_different_times_does_not_depend_on_which_comes_first((ItemMetadata, ItemMetadata) pair)
    {
        var (a, b) = pair;
        Assert.True(a.MergedWith(b).SameAs(b.MergedWith(a)));
    }

    [Property(Arbitrary = [typeof(MetadataArbitraries)], MaxTest = 500)]
    public void Merging_a_record_with_itself_changes_nothing(ItemMetadata a)
    {
        Assert.True(a.SameAs(a.MergedWith(a)));
    }

    // Records stated in the same millisecond must merge the same either way round.
    [Fact]
    public void Two_records_stated_at_the_same_instant_merge_the_same_either_way()
    {
        var a = new ItemMetadata { Id = "a1", UpdatedAt = Monday, Name = "Name A" };
        var b = new ItemMetadata { Id = "a1", UpdatedAt = Monday, Name = "Name B" };
        Assert.True(a.MergedWith(b).SameAs(b.MergedWith(a)));
    }

    // Each field keeps the time it was stated, so filling a gap from an old record does not make its value look new.
    [Fact]
    public void Three_records_merge_to_the_newest_statement_of_each_field_whatever_the_grouping()
    {
        var mon = new ItemMetadata { Id = "a1", UpdatedAt = Monday, Name = "Z" };
        var tue = new ItemMetadata { Id = "a1", UpdatedAt = Monday.AddDays(1), Name = "X" };
        var wed = new ItemMetadata { Id = "a1", UpdatedAt = Monday.AddDays(2), Doi = "10.1/x" };

        Assert.Equal("X", mon.MergedWith(tue).MergedWith(wed).Name);
        Assert.Equal("X", mon.MergedWith(wed).MergedWith(tue).Name);
    }

    // Each field keeps the time it was stated, so filling a gap from an old record does not make its value look new.
    [Property(Arbitrary = [typeof(MetadataArbitraries)], MaxTest = 500)]
    public void Three_records_merge_the_same_in_every_arrival_order((ItemMetadata, ItemMetadata, ItemMetadata) triple)
    {
        var (a, b, c) = triple;
        var expected = a.MergedWith(b).MergedWith(c);
        foreach (var order in new[] { (a, c, b), (b, a, c), (b, c, a), (c, a, b), (c, b, a) })
            Assert.True(expected.SameAs(order.Item1.MergedWith(order.Item2).MergedWith(order.Item3)));
    }
}

/// <summary>What an event says about its item and title, as <see cref="ItemMetadataReader"/> reads it.</summary>
public sealed class ItemMetadataFromEventTests
{
    private static (ItemMetadata? Item, ItemMetadata? Title) Read(TallyEvent e) => new ItemMetadataReader(e.Type).Read(e);

    private static TallyEvent One(string json)
    {
        var batch = CoreTestKit.Parse(json);
        Assert.Empty(batch.Rejections);
        return Assert.Single(batch.Events);
    }

    [Fact]
    public void An_event_with_a_title_id_describes_the_item_and_its_title()
    {
        var e = One("""
            {"type":"file-download","item_id":"ch1","title_id":"book1","item_name":"Chapter 1","doi":"10.1/ch1","data_type":"Book_Segment",
             "title_name":"The Book","parent_data_type":"Book","isbn":"978-3-16-148410-0","publisher":"ACME","yop":"2021"}
            """);
        var (item, title) = Read(e);

        Assert.NotNull(item);
        Assert.NotNull(title);
        Assert.Equal(("ch1", "Chapter 1", "Book_Segment", "10.1/ch1", "book1", "2021", "ACME"),
            (item.Id, item.Name, item.DataType, item.Doi, item.ParentId, item.Yop, item.Publisher));
        Assert.Null(item.Isbn);
        Assert.Equal(("book1", "The Book", "Book", "978-3-16-148410-0", "ACME"), (title.Id, title.Name, title.DataType, title.Isbn, title.Publisher));
        Assert.Equal(e.Timestamp, item.UpdatedAt);
    }

    [Fact]
    public void Without_a_title_id_the_title_fields_describe_the_item_itself()
    {
        var e = One("""{"type":"record-view","item_id":"book9","title_name":"A Whole Book","parent_data_type":"Book","isbn":"978-0-00-000000-2"}""");
        var (item, title) = Read(e);

        Assert.Null(title);
        Assert.NotNull(item);
        Assert.Equal(("book9", "A Whole Book", "Book", "978-0-00-000000-2", null), (item.Id, item.Name, item.DataType, item.Isbn, item.ParentId));
    }

    [Fact]
    public void An_event_with_no_metadata_describes_nothing_but_a_title_id_alone_links_the_item_to_its_title()
    {
        var (bare, bareTitle) = Read(One("""{"type":"record-view","item_id":"x"}"""));
        Assert.Null(bare);
        Assert.Null(bareTitle);

        var (linked, linkedTitle) = Read(One("""{"type":"record-view","item_id":"x","title_id":"t"}"""));
        Assert.Equal("t", linked?.ParentId);
        Assert.Null(linkedTitle);
    }
}
