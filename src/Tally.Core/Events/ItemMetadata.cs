using System.Text.Json.Serialization;

namespace Tally.Core.Events;

/// <summary>
/// What COUNTER reports say about an item or a title (a title is an item that others name as
/// parent). Known values only grow: a newer record overrides what it states, and an older one only
/// fills gaps, so the result does not depend on the order records arrive in.
/// </summary>
public sealed record ItemMetadata
{
    [JsonIgnore] public string Id { get; init; } = "";
    /// <summary>When these values were stated: the event's timestamp, or the time of the API call.</summary>
    [JsonIgnore] public DateTime UpdatedAt { get; init; }
    public string? Name { get; init; }
    /// <summary>A COUNTER Data_Type, e.g. Article, Book, Book_Segment, Journal, Dataset.</summary>
    public string? DataType { get; init; }
    public string? Doi { get; init; }
    public string? Isbn { get; init; }
    public string? PrintIssn { get; init; }
    public string? OnlineIssn { get; init; }
    public string? Uri { get; init; }
    public string? Publisher { get; init; }
    /// <summary>Year of publication, yyyy.</summary>
    public string? Yop { get; init; }
    /// <summary>The id of the title (journal, book) this item belongs to.</summary>
    public string? ParentId { get; init; }
    /// <summary>Author names separated by "; ".</summary>
    public string? Authors { get; init; }
    public string? PublicationDate { get; init; }
    public string? ArticleVersion { get; init; }

    /// <summary>When each value was stated, where it differs from <see cref="UpdatedAt"/>; null when all were stated then.</summary>
    [JsonPropertyName("stated_at")]
    public IReadOnlyDictionary<string, DateTime>? FieldTimes { get; init; }

    private static readonly (string Name, Func<ItemMetadata, string?> Get)[] Fields =
    [
        ("name", m => m.Name), ("data_type", m => m.DataType), ("doi", m => m.Doi), ("isbn", m => m.Isbn), ("print_issn", m => m.PrintIssn),
        ("online_issn", m => m.OnlineIssn), ("uri", m => m.Uri), ("publisher", m => m.Publisher), ("yop", m => m.Yop), ("parent_id", m => m.ParentId),
        ("authors", m => m.Authors), ("publication_date", m => m.PublicationDate), ("article_version", m => m.ArticleVersion),
    ];

    private DateTime StatedAt(string field) => FieldTimes?.GetValueOrDefault(field) is { } at && at != default ? at : UpdatedAt;

    /// <summary>
    /// Field by field, the most recently stated value wins; a record that says nothing about a field
    /// leaves it alone. Ties go to the greater value, so merging is commutative and associative:
    /// the result is the same whatever order and grouping records arrive in.
    /// </summary>
    public ItemMetadata MergedWith(ItemMetadata other)
    {
        var values = new string?[Fields.Length];
        var times = new DateTime[Fields.Length];
        var updated = UpdatedAt > other.UpdatedAt ? UpdatedAt : other.UpdatedAt;
        var differentTimes = false;
        for (var i = 0; i < Fields.Length; i++)
        {
            var (name, get) = Fields[i];
            var (a, b) = (get(this), get(other));
            var (atA, atB) = (StatedAt(name), other.StatedAt(name));
            var takeB = a is null || (b is not null && (atB > atA || (atB == atA && string.CompareOrdinal(b, a) > 0)));
            (values[i], times[i]) = takeB ? (b, atB) : (a, atA);
            differentTimes |= values[i] is not null && times[i] != updated;
        }
        return new ItemMetadata
        {
            Id = Id,
            UpdatedAt = updated,
            Name = values[0],
            DataType = values[1],
            Doi = values[2],
            Isbn = values[3],
            PrintIssn = values[4],
            OnlineIssn = values[5],
            Uri = values[6],
            Publisher = values[7],
            Yop = values[8],
            ParentId = values[9],
            Authors = values[10],
            PublicationDate = values[11],
            ArticleVersion = values[12],
            FieldTimes = differentTimes
                ? Enumerable.Range(0, Fields.Length).Where(i => values[i] is not null && times[i] != updated).ToDictionary(i => Fields[i].Name, i => times[i])
                : null,
        };
    }

    /// <summary>Same values stated at the same times; the record type's own equality would compare the time map by reference.</summary>
    public bool SameAs(ItemMetadata other) =>
        Id == other.Id && UpdatedAt == other.UpdatedAt && Fields.All(f => f.Get(this) == f.Get(other) && StatedAt(f.Name) == other.StatedAt(f.Name));

    /// <summary>True when anything besides the id is known (a parent id alone counts).</summary>
    [JsonIgnore]
    public bool HasValues => (Name ?? DataType ?? Doi ?? Isbn ?? PrintIssn ?? OnlineIssn ?? Uri ?? Publisher ?? Yop ?? ParentId ?? Authors ?? PublicationDate ?? ArticleVersion) is not null;
}

/// <summary>
/// Reads the item and title metadata events of one type carry, with field ordinals looked up once.
/// Item fields: item_name, data_type, doi, uri, publisher, yop, authors, publication_date,
/// article_version; title fields: title_name, parent_data_type, isbn, print_issn, online_issn.
/// Without a title_id the title fields describe the item itself.
/// </summary>
public sealed class ItemMetadataReader
{
    /// <summary>The event fields the reader uses.</summary>
    public static readonly string[] EventFields =
    [
        WellKnownFields.ItemId, WellKnownFields.TitleId, "title_name", "parent_data_type", "isbn", "print_issn", "online_issn", "item_name",
        "data_type", "doi", "uri", "publisher", "yop", "authors", "publication_date", "article_version",
    ];

    private readonly int[] _ordinals;

    public ItemMetadataReader(EventType type) => _ordinals = EventFields.Select(type.OrdinalOf).ToArray();

    /// <summary>The item's and its title's metadata, or nulls when the event states none.</summary>
    public (ItemMetadata? Item, ItemMetadata? Title) Read(TallyEvent e)
    {
        string? Get(int index) => e.Text(_ordinals[index]);
        var itemId = Get(0);
        if (itemId is null) return (null, null);
        var stated = false;
        for (var i = 1; i < _ordinals.Length && !stated; i++) stated = Get(i) is not null;
        if (!stated) return (null, null);

        var titleId = Get(1);
        var title = new ItemMetadata
        {
            Id = titleId ?? itemId, UpdatedAt = e.Timestamp, Name = Get(2), DataType = Get(3), Isbn = Get(4), PrintIssn = Get(5), OnlineIssn = Get(6),
        };
        var item = new ItemMetadata
        {
            Id = itemId, UpdatedAt = e.Timestamp, Name = Get(7), DataType = Get(8), Doi = Get(9), Uri = Get(10), Publisher = Get(11), Yop = Get(12),
            ParentId = titleId, Authors = Get(13), PublicationDate = Get(14), ArticleVersion = Get(15),
        };
        if (titleId is null)
            return (item with { Name = item.Name ?? title.Name, DataType = item.DataType ?? title.DataType, Isbn = title.Isbn, PrintIssn = title.PrintIssn, OnlineIssn = title.OnlineIssn }, null);
        return (item, title.HasValues ? title with { Publisher = item.Publisher } : null);
    }
}

/// <summary>How item metadata is written as JSON, in the API and in stores: snake_case, nulls left out.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(ItemMetadata))]
[JsonSerializable(typeof(Dictionary<string, ItemMetadata>))]
public sealed partial class ItemMetadataJson : JsonSerializerContext;
