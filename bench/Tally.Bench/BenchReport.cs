using System.Globalization;
using System.Text;

namespace Tally.Bench;

/// <summary>How results are written down: figures rounded for reading, and the Markdown table docs/benchmarks.md collects.</summary>
public static class BenchReport
{
    /// <summary>Whole numbers from 100 up, two decimals below.</summary>
    public static string Number(double value) =>
        value.ToString(value >= 100 ? "N0" : "N2", CultureInfo.InvariantCulture);

    /// <summary>A section headed by when, where and with what <paramref name="commandLine"/> the results were measured.</summary>
    public static string Markdown(string commandLine, IReadOnlyList<BenchResult> results)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"### {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores: `{commandLine}`");
        text.AppendLine();
        text.AppendLine("| Goal | Measured | Tally | Baseline (same run) | Ratio | Target |");
        text.AppendLine("|---|---|---:|---:|---:|---|");
        foreach (var r in results)
            text.AppendLine(CultureInfo.InvariantCulture, $"| {r.Goal} | {r.Measure} | {Number(r.Value)} {r.Unit} | {Number(r.BaselineValue)} ({r.Baseline}) | {r.Ratio:P0} | {r.Target} |");
        text.AppendLine();
        return text.ToString();
    }
}
