using System.Diagnostics;
using System.Text;

namespace Tally.Server.Tests;

/// <summary>The real `tally` program in its own process, for CLI behaviour and for crash tests.</summary>
public sealed class TallyProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource<string> _url = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private TallyProcess(Process process) => _process = process;

    public string Url => _url.Task.Result;
    public int ProcessId => _process.Id;
    public string Output { get { lock (_output) return _output.ToString(); } }

    public static ProcessStartInfo StartInfo(string workingDirectory, params string[] arguments)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(TestPaths.TallyDll);
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        info.Environment["NO_COLOR"] = "1";
        return info;
    }

    /// <summary>Runs a command to completion: exit code, stdout and stderr.</summary>
    public static async Task<(int ExitCode, string Out, string Error)> RunAsync(string workingDirectory, params string[] arguments)
    {
        using var process = Process.Start(StartInfo(workingDirectory, arguments))!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output, await error);
    }

    /// <summary>Starts `tally serve` on a free port and waits until it says where it listens.</summary>
    public static Task<TallyProcess> ServeAsync(string workingDirectory, string dataDirectory, string configPath, params string[] options) =>
        ServeAtAsync("http://127.0.0.1:0", workingDirectory, dataDirectory, configPath, options);

    /// <summary>Starts `tally serve` at <paramref name="url"/> (a fixed port, for clients that must find it again after a restart).</summary>
    public static async Task<TallyProcess> ServeAtAsync(string url, string workingDirectory, string dataDirectory, string configPath, params string[] options)
    {
        var process = Process.Start(StartInfo(workingDirectory, ["serve", "--urls", url, "--data", dataDirectory, "--config", configPath, .. options]))!;
        var tally = new TallyProcess(process);
        process.OutputDataReceived += (_, e) => tally.Read(e.Data, "Tally is listening on ");
        process.ErrorDataReceived += (_, e) => tally.Read(e.Data, null);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var exited = process.WaitForExitAsync();
        var first = await Task.WhenAny(tally._url.Task, exited, Task.Delay(TimeSpan.FromSeconds(60)));
        if (first != tally._url.Task)
        {
            tally.Dispose();
            throw new InvalidOperationException("tally serve did not start:\n" + tally.Output);
        }
        return tally;
    }

    private void Read(string? line, string? urlPrefix)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
        if (urlPrefix is not null && line.StartsWith(urlPrefix, StringComparison.Ordinal)) _url.TrySetResult(line[urlPrefix.Length..].Trim());
    }

    /// <summary>SIGKILL: no shutdown hooks, no flushing, as a power cut or OOM kill would do.</summary>
    public void Kill()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    /// <summary>SIGTERM, as systemd or Ctrl+C stops a server: waits for the process to end and gives its exit code.</summary>
    public async Task<int> StopAsync()
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) await kill.WaitForExitAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _process.WaitForExitAsync(timeout.Token);
        return _process.ExitCode;
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }
}
