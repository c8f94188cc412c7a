using Tally.Core.Events;

namespace Tally.Core.Aggregate;

/// <summary>
/// Computes one day's COUNTER metrics from that day's raw events of every COUNTER type, following
/// the Code of Practice R5.1:
/// <list type="bullet">
/// <item>Robots are excluded.</item>
/// <item>Double-click filter (Total_* and access denials): when the same user clicks the same target
/// of the same type again less than 30 s later, the earlier click is removed, so a chain keeps only
/// its last click; two clicks exactly 30 s apart both count. The target is the url, else item + format.
/// The user is the visitor id (user id, session cookie, or IP + user agent, in that order).</item>
/// <item>Unique_Item_*: one per item per session; Unique_Title_*: one per title (title_id, else the
/// item) per session, counted from the clicks that survive the double-click filter.</item>
/// <item>A request also counts as an investigation.</item>
/// </list>
/// Events may be added in any order: everything is decided on sorted data in <see cref="Rows"/>.
/// Visitor and session ids are salted per day, so a day is self-contained and months are sums of days.
/// </summary>
public sealed class CounterDayCalculator(DateOnly day)
{
    public static readonly TimeSpan DoubleClickWindow = TimeSpan.FromSeconds(30);

    private readonly List<Click> _clicks = [];
    private readonly List<CounterRow> _rows = [];
    private readonly Dictionary<GroupKey, int> _rowIndex = [];
    private readonly Dictionary<GroupKey, int> _titleIndex = [];
    private readonly Dictionary<string, int> _targets = new(StringComparer.Ordinal);
    private readonly Dictionary<EventType, int> _typeIndex = [];
    private readonly Dictionary<EventType, CounterFields> _fields = [];

    /// <summary>The fields a store must fill in for <see cref="Add"/> and for <see cref="ItemMetadataReader"/>.</summary>
    public static IReadOnlyList<FieldDefinition> FieldsNeeded(EventType type) =>
        WellKnownFields.Counter.Concat(ItemMetadataReader.EventFields).Distinct().Select(type.Field).OfType<FieldDefinition>().ToList();

    public void Add(TallyEvent e)
    {
        var role = e.Type.Counter;
        if (e.IsRobot || role == CounterRole.None) return;
        if (!_fields.TryGetValue(e.Type, out var fields)) _fields[e.Type] = fields = new CounterFields(e.Type);

        var keys = new string?[CounterNames.Dimensions.Length];
        keys[(int)CounterDimension.DatabaseId] = e.Text(fields.DatabaseId);
        keys[(int)CounterDimension.AccessMethod] = e.Text(fields.AccessMethod) ?? "Regular";
        keys[(int)CounterDimension.Institution] = e.Text(fields.Institution);
        keys[(int)CounterDimension.Country] = e.Text(fields.Country);
        keys[(int)CounterDimension.Region] = e.Text(fields.Region);
        if (role == CounterRole.Search)
        {
            var row = RowFor(keys);
            var kind = e.Text(fields.SearchType) switch
            {
                "automated" => CounterMetric.SearchesAutomated,
                "federated" => CounterMetric.SearchesFederated,
                _ => CounterMetric.SearchesRegular,
            };
            row[kind]++;
            if (kind == CounterMetric.SearchesRegular) row[CounterMetric.SearchesPlatform]++;
            return;
        }

        var itemId = e.Text(fields.ItemId);
        if (itemId is null) return;
        keys[(int)CounterDimension.ItemId] = itemId;
        keys[(int)CounterDimension.TitleId] = e.Text(fields.TitleId);
        keys[(int)CounterDimension.AccessType] = e.Text(fields.AccessType) ?? "Controlled";
        var rowIndex = Intern(_rowIndex, keys, () => { _rows.Add(new CounterRow(day, keys)); return _rows.Count - 1; });

        // A title groups its items under the same dimensions; an item without a title is its own title.
        var titleKeys = (string?[])keys.Clone();
        titleKeys[(int)CounterDimension.TitleId] ??= itemId;
        titleKeys[(int)CounterDimension.ItemId] = null;
        var titleIndex = Intern(_titleIndex, titleKeys, () => _titleIndex.Count);

        var target = e.Text(fields.Url) ?? $"{itemId}\u001f{e.Text(fields.Format)}";
        if (!_targets.TryGetValue(target, out var targetIndex)) _targets.Add(target, targetIndex = _targets.Count);
        if (!_typeIndex.TryGetValue(e.Type, out var typeIndex)) _typeIndex.Add(e.Type, typeIndex = _typeIndex.Count);
        _clicks.Add(new Click(e.Timestamp.Ticks, e.VisitorId, targetIndex, typeIndex, e.SessionId, rowIndex, titleIndex, role));
    }

    /// <summary>The day's rows with any metric above zero. Computed once; later calls return the same rows.</summary>
    public IReadOnlyList<CounterRow> Rows() => _result ??= Compute();

    private IReadOnlyList<CounterRow>? _result;

    private List<CounterRow> Compute()
    {
        var clicks = _clicks.ToArray();
        Array.Sort(clicks, ByUserTargetAndTime);
        var itemInvestigations = new HashSet<(long Session, int Row)>();
        var itemRequests = new HashSet<(long Session, int Row)>();
        var titleInvestigations = new Dictionary<(long Session, int Title), Click>();
        var titleRequests = new Dictionary<(long Session, int Title), Click>();
        for (var i = 0; i < clicks.Length; i++)
        {
            var click = clicks[i];
            var next = i + 1 < clicks.Length ? clicks[i + 1] : default;
            var superseded = i + 1 < clicks.Length && SameUserAndTarget(click, next) && next.Ticks - click.Ticks < DoubleClickWindow.Ticks;
            if (superseded) continue;
            var row = _rows[click.Row];
            switch (click.Role)
            {
                case CounterRole.Investigation: row[CounterMetric.TotalItemInvestigations]++; break;
                case CounterRole.Request: row[CounterMetric.TotalItemInvestigations]++; row[CounterMetric.TotalItemRequests]++; break;
                case CounterRole.NoLicense: row[CounterMetric.NoLicense]++; break;
                case CounterRole.LimitExceeded: row[CounterMetric.LimitExceeded]++; break;
            }
            // Uniques come from the clicks that count, so a unique never exceeds its total, even when a
            // double-click straddles two hour slices.
            if (click.Role is not (CounterRole.Investigation or CounterRole.Request)) continue;
            itemInvestigations.Add((click.Session, click.Row));
            KeepFirst(titleInvestigations, click);
            if (click.Role != CounterRole.Request) continue;
            itemRequests.Add((click.Session, click.Row));
            KeepFirst(titleRequests, click);
        }
        foreach (var (_, row) in itemInvestigations) _rows[row][CounterMetric.UniqueItemInvestigations]++;
        foreach (var (_, row) in itemRequests) _rows[row][CounterMetric.UniqueItemRequests]++;
        // Each title-session is counted on the row of the item it began with, so rows still add up by title.
        foreach (var click in titleInvestigations.Values) _rows[click.Row][CounterMetric.UniqueTitleInvestigations]++;
        foreach (var click in titleRequests.Values) _rows[click.Row][CounterMetric.UniqueTitleRequests]++;
        return _rows.Where(r => !r.IsEmpty).ToList();
    }

    private void KeepFirst(Dictionary<(long, int), Click> firsts, Click click)
    {
        var key = (click.Session, click.Title);
        if (!firsts.TryGetValue(key, out var first) || IsEarlier(click, first)) firsts[key] = click;
    }

    /// <summary>Earlier in time, then by the row's dimension values (the item id first), so the choice does not depend on arrival order.</summary>
    private bool IsEarlier(Click a, Click b) =>
        a.Ticks != b.Ticks ? a.Ticks < b.Ticks : CompareRows(_rows[a.Row].Keys, _rows[b.Row].Keys) < 0;

    private static bool SameUserAndTarget(Click a, Click b) => a.Type == b.Type && a.Visitor == b.Visitor && a.Target == b.Target;

    private int ByUserTargetAndTime(Click a, Click b)
    {
        var c = a.Type.CompareTo(b.Type);
        if (c == 0) c = a.Visitor.CompareTo(b.Visitor);
        if (c == 0) c = a.Target.CompareTo(b.Target);
        if (c == 0) c = a.Ticks.CompareTo(b.Ticks);
        // Simultaneous clicks: which one survives decides its row and session, so break the tie by content, not arrival.
        if (c == 0) c = CompareRows(_rows[a.Row].Keys, _rows[b.Row].Keys);
        if (c == 0) c = a.Session.CompareTo(b.Session);
        return c;
    }

    private static int CompareRows(string?[] a, string?[] b)
    {
        for (var i = 0; i < a.Length; i++)
        {
            var c = string.CompareOrdinal(a[i], b[i]);
            if (c != 0) return c;
        }
        return 0;
    }

    private CounterRow RowFor(string?[] keys) => _rows[Intern(_rowIndex, keys, () => { _rows.Add(new CounterRow(day, keys)); return _rows.Count - 1; })];

    private static int Intern(Dictionary<GroupKey, int> index, string?[] keys, Func<int> create)
    {
        var key = new GroupKey(keys);
        if (!index.TryGetValue(key, out var i)) index.Add(key, i = create());
        return i;
    }

    private readonly record struct Click(long Ticks, long Visitor, int Target, int Type, long Session, int Row, int Title, CounterRole Role);

    /// <summary>Ordinals of the fields COUNTER reads, looked up once per type.</summary>
    private sealed class CounterFields(EventType type)
    {
        public int ItemId { get; } = type.OrdinalOf(WellKnownFields.ItemId);
        public int TitleId { get; } = type.OrdinalOf(WellKnownFields.TitleId);
        public int DatabaseId { get; } = type.OrdinalOf(WellKnownFields.DatabaseId);
        public int AccessType { get; } = type.OrdinalOf(WellKnownFields.AccessType);
        public int AccessMethod { get; } = type.OrdinalOf(WellKnownFields.AccessMethod);
        public int Institution { get; } = type.OrdinalOf(WellKnownFields.Institution);
        public int Country { get; } = type.OrdinalOf(WellKnownFields.Country);
        public int Region { get; } = type.OrdinalOf(WellKnownFields.Region);
        public int Url { get; } = type.OrdinalOf(WellKnownFields.Url);
        public int Format { get; } = type.OrdinalOf(WellKnownFields.Format);
        public int SearchType { get; } = type.OrdinalOf(WellKnownFields.SearchType);
    }
}
