using System.Text;
using Tally.Queue.Inbox;

namespace Tally.Server.Tests.Inbox;

/// <summary>The inbox's journal on real files: what it acknowledged survives, and what a crash tore is cut off, never read.</summary>
public sealed class InboxJournalTests : IDisposable
{
    private readonly string _directory = TestPaths.NewTempDirectory();

    private static ReadOnlyMemory<byte> Record(int n) => Encoding.UTF8.GetBytes($"{{\"n\":{n},\"pad\":\"{new string('x', n % 50)}\"}}\n");

    private static List<string> ReadAll(InboxJournal journal, long from = -1)
    {
        var records = new List<byte[]>();
        journal.Read(from < 0 ? journal.Consumed : from, int.MaxValue, records);
        return [.. records.Select(r => Encoding.UTF8.GetString(r))];
    }

    private string Segment => Assert.Single(Directory.GetFiles(_directory, "*.journal"));

    [Fact]
    public void Appended_records_are_read_back_in_order_and_the_consumed_position_survives_a_reopen()
    {
        long middle;
        using (var journal = InboxJournal.Open(_directory))
        {
            journal.Append([Record(1), Record(2)]);
            middle = journal.End;
            journal.Append([Record(3)]);
            Assert.Equal([Encoding.UTF8.GetString(Record(1).Span), Encoding.UTF8.GetString(Record(2).Span), Encoding.UTF8.GetString(Record(3).Span)], ReadAll(journal));
            journal.Consume(middle);
        }
        using (var reopened = InboxJournal.Open(_directory))
        {
            Assert.Equal(middle, reopened.Consumed);
            Assert.Equal([Encoding.UTF8.GetString(Record(3).Span)], ReadAll(reopened));
        }
    }

    [Fact]
    public void A_group_torn_by_a_crash_is_cut_off_at_the_next_open_and_appends_go_on_after_the_last_whole_record()
    {
        long whole;
        using (var journal = InboxJournal.Open(_directory))
        {
            journal.Append([Record(1)]);
            whole = journal.End;
            journal.Append([Record(2)]);
        }
        using (var file = new FileStream(Segment, FileMode.Open)) file.SetLength(file.Length - 3);
        using (var reopened = InboxJournal.Open(_directory))
        {
            Assert.Equal(whole, reopened.End);
            Assert.Equal(whole, new FileInfo(Segment).Length);
            reopened.Append([Record(4)]);
            Assert.Equal([Encoding.UTF8.GetString(Record(1).Span), Encoding.UTF8.GetString(Record(4).Span)], ReadAll(reopened));
        }
    }

    [Fact]
    public void A_last_record_whose_bytes_do_not_match_its_checksum_is_cut_off()
    {
        long whole;
        using (var journal = InboxJournal.Open(_directory))
        {
            journal.Append([Record(1)]);
            whole = journal.End;
            journal.Append([Record(2)]);
        }
        var bytes = File.ReadAllBytes(Segment);
        bytes[^2] ^= 0x20;
        File.WriteAllBytes(Segment, bytes);
        using var reopened = InboxJournal.Open(_directory);
        Assert.Equal(whole, reopened.End);
        Assert.Equal([Encoding.UTF8.GetString(Record(1).Span)], ReadAll(reopened));
    }

    [Fact]
    public void Records_continue_across_segments_and_a_segment_is_deleted_once_consumed()
    {
        using var journal = InboxJournal.Open(_directory, segmentBytes: 200);
        var expected = new List<string>();
        for (var n = 0; n < 20; n++)
        {
            journal.Append([Record(n)]);
            expected.Add(Encoding.UTF8.GetString(Record(n).Span));
        }
        var segments = Directory.GetFiles(_directory, "*.journal").Length;
        Assert.True(segments > 3, $"{segments} segments");
        Assert.Equal(expected, ReadAll(journal));

        var records = new List<byte[]>();
        var afterTen = 0L;
        for (var n = 0; n < 10; n++) afterTen = journal.Read(afterTen, 1, records);
        journal.Consume(afterTen);
        Assert.True(Directory.GetFiles(_directory, "*.journal").Length < segments);
        Assert.Equal(expected[10..], ReadAll(journal));

        journal.Consume(journal.End);
        Assert.Single(Directory.GetFiles(_directory, "*.journal"));
        Assert.Empty(ReadAll(journal));
    }

    [Fact]
    public void A_second_process_cannot_open_a_held_inbox_and_a_reader_reads_at_most_what_it_asks_for_but_never_nothing()
    {
        using var journal = InboxJournal.Open(_directory);
        Assert.Throws<InboxBusyException>(() => InboxJournal.Open(_directory));
        journal.Append([Record(1), Record(2), Record(3)]);
        var records = new List<byte[]>();
        var next = journal.Read(0, 1, records);
        Assert.Single(records);
        records.Clear();
        journal.Read(next, Record(2).Length + Record(3).Length, records);
        Assert.Equal(2, records.Count);
    }

    [Fact]
    public void A_damaged_consumed_position_is_refused_with_what_to_do()
    {
        using (var journal = InboxJournal.Open(_directory))
        {
            journal.Append([Record(1)]);
            journal.Consume(journal.End);
        }
        File.WriteAllBytes(Path.Combine(_directory, "consumed"), [1, 2, 3]);
        var refused = Assert.Throws<InvalidDataException>(() => InboxJournal.Open(_directory));
        Assert.Contains("delete it", refused.Message);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
