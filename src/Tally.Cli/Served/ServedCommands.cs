using System.Buffers.Binary;
using System.CommandLine;
using System.CommandLine.Parsing;
using System.Net.Sockets;
using System.Text;
using Tally.Core.Store;
using Tally.Hosting;

namespace Tally.Cli.Served;

/// <summary>
/// Commands that a running <c>tally serve</c> runs for other processes. DuckDB lets one process at a time open a data
/// folder, so while a server holds it, <c>tally import</c>, <c>aggregate</c>, <c>query</c>, <c>report</c> and the other
/// store commands are sent to that server over a Unix socket in the folder (<see cref="SocketName"/>, readable only by
/// the folder's owner) and run there on the server's open store, their output coming back as if run here.
/// </summary>
/// <remarks>
/// The wire format, both ways, is frames of a channel byte, a little-endian length and that many bytes. The client sends
/// one request frame (the command line, words separated by NUL, paths made absolute); the server answers with output and
/// error frames and ends with the exit code. The client closing its end (Ctrl+C) cancels the command.
/// </remarks>
public sealed class ServedCommands : IAsyncDisposable
{
    public const string SocketName = "tally.sock";
    private const byte Request = 0, Output = 1, Error = 2, Exit = 3;
    /// <summary>The largest frame either side reads: a command line, or one piece of output.</summary>
    private const int MaxFrame = 1 << 20;
    /// <summary>How long a client has to send its command line after connecting.</summary>
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);
    private readonly Socket _listener;
    private readonly RootCommand _root;
    private readonly string _path;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _accepting;

    private ServedCommands(Socket listener, RootCommand root, string path)
    {
        (_listener, _root, _path) = (listener, root, path);
        _accepting = AcceptAsync();
    }

    /// <summary>Starts serving commands on the data folder <paramref name="directory"/>, whose store this process holds.</summary>
    public static ServedCommands Listen(string directory, RootCommand root)
    {
        var path = Path.Combine(directory, SocketName);
        // Whoever made a socket left here was killed: this process holds the store, so no other server is alive on it.
        File.Delete(path);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(path));
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            listener.Listen();
        }
        catch
        {
            listener.Dispose();
            throw;
        }
        return new ServedCommands(listener, root, path);
    }

    private async Task AcceptAsync()
    {
        var running = new List<Task>();
        try
        {
            while (true)
            {
                var client = await _listener.AcceptAsync(_stopping.Token);
                running.RemoveAll(t => t.IsCompleted);
                running.Add(Task.Run(() => RunAsync(client)));
            }
        }
        catch (OperationCanceledException)
        {
        }
        await Task.WhenAll(running);
    }

    /// <summary>Runs one client's command on this process's store, its output and exit code sent back as frames.</summary>
    private async Task RunAsync(Socket client)
    {
        await using var stream = new NetworkStream(client, ownsSocket: true);
        try
        {
            using var waiting = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
            waiting.CancelAfter(RequestTimeout);
            var (channel, request) = await ReadFrameAsync(stream, waiting.Token);
            if (channel != Request) return;
            var args = Encoding.UTF8.GetString(request).Split('\0');
            using var cancel = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
            _ = CancelWhenClosedAsync(stream, cancel);
            var gate = new SemaphoreSlim(1, 1);
            await using var output = new StreamWriter(new FrameStream(stream, Output, gate), new UTF8Encoding(false)) { AutoFlush = true };
            await using var error = new StreamWriter(new FrameStream(stream, Error, gate), new UTF8Encoding(false)) { AutoFlush = true };
            CommandConsole.Serve(output, error);
            var exitCode = await CommandLineChecks.RunAsync(_root, args, cancel.Token);
            var code = new byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(code, exitCode);
            await new FrameStream(stream, Exit, gate).WriteAsync(code, CancellationToken.None);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The client went away, sent what is not a frame or nothing in time; a command under way was cancelled with it.
        }
    }

    /// <summary>Cancels the command once the client closes its end (it sends nothing after its request); nothing once the command has ended.</summary>
    private static async Task CancelWhenClosedAsync(Stream stream, CancellationTokenSource cancel)
    {
        try
        {
            await stream.ReadAtLeastAsync(new byte[1], 1, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
            return;
        }
        try
        {
            await cancel.CancelAsync();
        }
        catch (ObjectDisposedException)
        {
            // The command ended between the two.
        }
    }

    /// <summary>The store a command's options and configuration name.</summary>
    public static StoreLocation ConfiguredStore(ParseResult parse) => StoreFactory.Configured(
        parse.GetValue(CommonOptions.Store), TallyConfiguration.Load(parse.GetValue(CommonOptions.Config)).Storage, Path.GetFullPath(parse.GetValue(CommonOptions.Data)!));

    /// <summary>
    /// Sends the command to the server holding the data folder of one of <paramref name="stores"/>, when one does, and
    /// relays its output: the exit code, or null when the command should run here (no DuckDB store, no server, or one
    /// that was killed).
    /// </summary>
    public static async Task<int?> TryForwardAsync(ParseResult parse, IEnumerable<StoreLocation> stores, CancellationToken cancellationToken)
    {
        if (CommandConsole.Current.IsServed) return null;
        foreach (var store in stores.Where(s => s.Engine == StoreLocation.DuckDb))
        {
            var path = Path.Combine(Path.GetFullPath(store.Connection), SocketName);
            if (!File.Exists(path)) continue;
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken);
            }
            catch (SocketException)
            {
                continue;
            }
            return await RelayAsync(socket, CommandLine(parse), cancellationToken)
                ?? throw new IOException($"the server holding {Path.GetDirectoryName(path)} stopped before the command finished");
        }
        return null;
    }

    /// <summary>Sends the command line, then writes what comes back until the exit code; null when the server went away first.</summary>
    private static async Task<int?> RelayAsync(Socket socket, IEnumerable<string> words, CancellationToken cancellationToken)
    {
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        await new FrameStream(stream, Request, new SemaphoreSlim(1, 1)).WriteAsync(Encoding.UTF8.GetBytes(string.Join('\0', words)), cancellationToken);
        await using var stdout = Console.OpenStandardOutput();
        await using var stderr = Console.OpenStandardError();
        while (true)
        {
            var (channel, payload) = await ReadFrameAsync(stream, cancellationToken);
            switch (channel)
            {
                case Output: await stdout.WriteAsync(payload, cancellationToken); break;
                case Error: await stderr.WriteAsync(payload, cancellationToken); break;
                case Exit: return BinaryPrimitives.ReadInt32LittleEndian(payload);
                default: return null;
            }
        }
    }

    /// <summary>The command line again, for a process with another working directory: every path made absolute, the data folder and configuration named.</summary>
    private static List<string> CommandLine(ParseResult parse)
    {
        var replaced = new Dictionary<Token, string?>(ReferenceEqualityComparer.Instance);
        foreach (var option in new Option[] { CommonOptions.Data, CommonOptions.Config })
        {
            if (parse.GetResult(option) is not OptionResult { IdentifierToken: { } identifier } result) continue;
            replaced[identifier] = null;
            foreach (var token in result.Tokens) replaced[token] = null;
        }
        foreach (var symbol in CommandLineChecks.StoreLocations)
        {
            foreach (var token in parse.GetResult(symbol)?.Tokens ?? [])
            {
                var location = StoreLocation.Parse(token.Value, symbol.Name);
                if (StoreLocation.IsEmbedded(location.Engine)) replaced[token] = $"{location.Engine}:{Path.GetFullPath(location.Connection)}";
            }
        }
        foreach (var symbol in CommandLineChecks.Paths)
        {
            foreach (var token in parse.GetResult(symbol)?.Tokens ?? [])
                if (token.Value != "-") replaced[token] = Path.GetFullPath(token.Value);
        }
        var words = parse.Tokens.Select(t => replaced.TryGetValue(t, out var word) ? word : t.Value).OfType<string>().ToList();
        words.AddRange(["--data", Path.GetFullPath(parse.GetValue(CommonOptions.Data)!)]);
        if (TallyConfiguration.PathOf(parse.GetValue(CommonOptions.Config)) is { } config) words.AddRange(["--config", Path.GetFullPath(config)]);
        return words;
    }

    /// <summary>One frame: its channel and payload; channel 255 and no payload when the stream ended.</summary>
    private static async Task<(byte Channel, byte[] Payload)> ReadFrameAsync(Stream stream, CancellationToken cancellationToken)
    {
        var header = new byte[5];
        try
        {
            await stream.ReadExactlyAsync(header, cancellationToken);
        }
        catch (EndOfStreamException)
        {
            return (byte.MaxValue, []);
        }
        var length = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(1));
        if (length is < 0 or > MaxFrame) throw new InvalidDataException($"a frame of {length} bytes, where at most {MaxFrame} are read");
        var payload = new byte[length];
        await stream.ReadExactlyAsync(payload, cancellationToken);
        return (header[0], payload);
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        _listener.Dispose();
        await _accepting;
        File.Delete(_path);
        _stopping.Dispose();
    }

    /// <summary>Writes each write as one frame of a channel; the channels of a connection share its stream through <paramref name="gate"/>. Disposing leaves the stream open.</summary>
    private sealed class FrameStream(Stream inner, byte channel, SemaphoreSlim gate) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            for (var start = 0; start < buffer.Length; start += MaxFrame)
            {
                var piece = buffer[start..Math.Min(buffer.Length, start + MaxFrame)];
                var header = new byte[5];
                header[0] = channel;
                BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(1), piece.Length);
                await gate.WaitAsync(cancellationToken);
                try
                {
                    await inner.WriteAsync(header, cancellationToken);
                    await inner.WriteAsync(piece, cancellationToken);
                }
                finally
                {
                    gate.Release();
                }
            }
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
