using Tally.Storage.ClickHouse;

namespace Tally.Storage.Tests;

/// <summary>The HTTP client against the real server: inserts, reads and their escaping, literals, and errors.</summary>
public sealed class ClickHouseClientTests : IAsyncLifetime
{
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly string _database = $"t_{Guid.NewGuid():N}";
    private ClickHouseHttpClient _client = null!;

    public async Task InitializeAsync()
    {
        using (var server = ClickHouseTestServers.Client(ClickHouseTestServers.Endpoint))
            await server.ExecuteAsync($"CREATE DATABASE {_database}", None);
        _client = ClickHouseTestServers.Client(ClickHouseTestServers.Endpoint, _database);
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await ClickHouseTestServers.DropDatabasesAsync([_database]);
    }

    /// <summary>Strings that text formats and SQL literals must escape, or that merely look alarming.</summary>
    public static readonly string[] Awkward =
    [
        "", "plain", "tab\there", "new\nline", "cr\rlf\r\n", @"back\slash", @"trailing\", "quote'", "two ''", "double\"", "nul\0byte",
        "bell\a vt\v bs\b ff\f esc\u001b del\u007f", "\\N", @"\t not a tab", @"\x41", "ünïcödé ✓", "emoji 😀 and 𝄞", "中文",
        "'; DROP TABLE rows; --", @"\'; DROP TABLE rows; --", "' OR '1'='1", "'' UNION SELECT 1 --", "\\\\'", "end'",
    ];

    [Fact]
    public async Task A_streamed_gzip_insert_of_100k_rows_reads_back_exactly()
    {
        await _client.ExecuteAsync("CREATE TABLE rows (n UInt64, s Nullable(String), x Float64, i Int64) ENGINE = MergeTree ORDER BY n", None);
        var random = new Random(7);
        // Random bit patterns: every kind of double, which text formats on 18.16 would not all parse back exactly.
        var rows = Enumerable.Range(0, 100_000).Select(n =>
        {
            double x;
            do x = BitConverter.Int64BitsToDouble(random.NextInt64(long.MinValue, long.MaxValue)); while (!double.IsFinite(x));
            return (N: (ulong)n, S: n % 7 == 0 ? null : Awkward[n % Awkward.Length] + n, X: x, I: random.NextInt64(long.MinValue, long.MaxValue));
        }).ToList();
        await _client.InsertAsync("rows", ["n", "s", "x", "i"], rows, (w, row) =>
        {
            w.WriteUInt64(row.N);
            w.WriteNullableString(row.S);
            w.WriteFloat64(row.X);
            w.WriteInt64(row.I);
        }, None);

        var read = 0;
        await foreach (var row in _client.QueryAsync("SELECT n, s, x, i FROM rows ORDER BY n", None))
        {
            var sent = rows[read++];
            Assert.Equal(sent.N, row.GetUInt64(0));
            Assert.Equal(sent.S, row.GetNullableString(1));
            Assert.Equal(BitConverter.DoubleToInt64Bits(sent.X), BitConverter.DoubleToInt64Bits(row.GetDouble(2)));
            Assert.Equal(sent.I, row.GetInt64(3));
        }
        Assert.Equal(rows.Count, read);
    }

    [Fact]
    public async Task Awkward_strings_round_trip_through_insert_and_tabseparated_and_as_literals()
    {
        await _client.ExecuteAsync("CREATE TABLE rows (n UInt64, s String) ENGINE = MergeTree ORDER BY n", None);
        await _client.InsertAsync("rows", ["n", "s"], Awkward.Select((s, n) => (N: (ulong)n, S: s)), (w, row) =>
        {
            w.WriteUInt64(row.N);
            w.WriteString(row.S);
        }, None);

        Assert.Equal(Awkward, await _client.QueryListAsync("SELECT s FROM rows ORDER BY n", row => row.GetString(0), None));
        foreach (var value in Awkward)
        {
            // As a literal the value comes back unchanged, and finds exactly its own row: nothing in it escapes the quotes.
            Assert.Equal(value, (await _client.QueryListAsync($"SELECT {ClickHouseSql.Quote(value)}", row => row.GetString(0), None)).Single());
            Assert.Equal([(ulong)Array.IndexOf(Awkward, value)],
                await _client.QueryListAsync($"SELECT n FROM rows WHERE s = {ClickHouseSql.Quote(value)}", row => row.GetUInt64(0), None));
        }
        Assert.Equal(Awkward.Length, (await _client.QueryListAsync("SELECT count() FROM rows", row => row.GetInt64(0), None)).Single());
    }

    [Fact]
    public async Task Several_columns_nulls_numbers_and_dates_are_read_from_tabseparated()
    {
        var row = (await _client.QueryListAsync(
            "SELECT toNullable('a\tb'), CAST(NULL AS Nullable(String)), -9223372036854775808, 18446744073709551615, -1e-300, 1/0, toDate('2026-03-15'), ''",
            r => (r.FieldCount, r.GetNullableString(0), r.IsNull(1), r.GetInt64(2), r.GetUInt64(3), r.GetDouble(4), r.GetDouble(5), r.GetDate(6), r.GetString(7)), None)).Single();
        Assert.Equal((8, "a\tb", true, long.MinValue, ulong.MaxValue, -1e-300, double.PositiveInfinity, new DateOnly(2026, 3, 15), ""), row);
    }

    [Fact]
    public async Task A_large_result_streams_row_by_row()
    {
        long count = 0, sum = 0;
        await foreach (var row in _client.QueryAsync("SELECT number FROM system.numbers LIMIT 3000000", None))
        {
            count++;
            sum += row.GetInt64(0);
        }
        Assert.Equal((3_000_000L, 3_000_000L * 2_999_999 / 2), (count, sum));
    }

    [Fact]
    public async Task A_syntax_error_carries_code_62_the_statement_and_the_server()
    {
        var error = await Assert.ThrowsAsync<ClickHouseException>(() => _client.ExecuteAsync("SELEC 1", None));
        Assert.Equal(62, error.Code);
        Assert.Equal("SELEC 1", error.Statement);
        Assert.Equal(ClickHouseTestServers.Endpoint, error.Endpoint);
        Assert.Contains("Syntax error", error.Message, StringComparison.Ordinal);
        Assert.Contains(ClickHouseTestServers.Endpoint.ToString(), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_table_carries_code_60()
    {
        var error = await Assert.ThrowsAsync<ClickHouseException>(() => _client.QueryListAsync("SELECT * FROM nowhere", r => 0, None));
        Assert.Equal(60, error.Code);
        Assert.Contains("nowhere", error.Message, StringComparison.Ordinal);
        Assert.Equal("SELECT * FROM nowhere FORMAT TabSeparated", error.Statement);
    }

    [Fact]
    public async Task An_error_after_rows_began_to_stream_is_an_exception_not_a_short_result()
    {
        var rows = 0;
        var error = await Assert.ThrowsAsync<ClickHouseException>(async () =>
        {
            await foreach (var _ in _client.QueryAsync("SELECT throwIf(number = 2000000), toString(number) FROM system.numbers LIMIT 3000000", None)) rows++;
        });
        Assert.Equal(395, error.Code);
        Assert.True(rows > 0, "the error was expected after some rows had arrived");
    }

    [Fact]
    public async Task A_failing_row_writer_fails_the_insert_with_its_own_exception_and_stores_nothing()
    {
        await _client.ExecuteAsync("CREATE TABLE rows (n UInt64) ENGINE = MergeTree ORDER BY n", None);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => _client.InsertAsync("rows", ["n"], Enumerable.Range(0, 100_000), (w, n) =>
        {
            if (n == 90_000) throw new InvalidOperationException("no row 90000");
            w.WriteUInt64((ulong)n);
        }, None));
        Assert.Equal("no row 90000", error.Message);
        Assert.Equal(0L, (await _client.QueryListAsync("SELECT count() FROM rows", row => row.GetInt64(0), None)).Single());
    }

    [Fact]
    public async Task An_unreachable_server_is_named_in_the_error()
    {
        var endpoint = new Uri($"http://127.0.0.1:{ClickHouseTestServers.UnusedPort()}/");
        using var client = new ClickHouseHttpClient(endpoint);
        var error = await Assert.ThrowsAsync<ClickHouseException>(() => client.ExecuteAsync("SELECT 1", None));
        Assert.Null(error.Code);
        Assert.Contains(endpoint.ToString(), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Identifiers_must_be_plain()
    {
        Assert.Equal("t_1", ClickHouseSql.Identifier("t_1"));
        foreach (var bad in new[] { "", "1t", "a-b", "a b", "a;DROP", "`a`" })
            Assert.Throws<ArgumentException>(() => ClickHouseSql.Identifier(bad));
    }
}
