namespace Tally.Core.Store;

/// <summary>
/// The order every engine lists raw events in: by time, then by the source a row is kept in (a partition or
/// a type, as the engine names it, in ordinal order), then by the row's place in that source; all reversed
/// when newest first. An export reads in this order a batch at a time, each batch resuming after the last
/// row of the one before (keyset paging), so that no read holds more than a batch and none skips rows as an
/// OFFSET over a growing table could.
/// </summary>
public static class RawEventOrder
{
    /// <summary>
    /// The SQL condition that a row of one source comes after the last row read. <paramref name="sourceComparison"/>
    /// compares this source's name with the last row's source, ordinally; the other arguments are SQL: the time and
    /// row columns, and the last row's time and row.
    /// </summary>
    public static string After(int sourceComparison, bool descending, string time, string row, string lastTime, string lastRow)
    {
        var (beyond, from) = descending ? ("<", "<=") : (">", ">=");
        return (descending ? -sourceComparison : sourceComparison) switch
        {
            // This source's rows at the last row's time came before it, so they were read already.
            < 0 => $"{time} {beyond} {lastTime}",
            0 => $"{time} {from} {lastTime} AND ({time} {beyond} {lastTime} OR {row} {beyond} {lastRow})",
            _ => $"{time} {from} {lastTime}",
        };
    }
}
