using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace Tally.Core.Tests;

/// <summary>
/// The project graph keeps to docs/architecture.md: its table of what each project may depend on is read here,
/// so the page and the rule cannot drift apart.
/// </summary>
public sealed partial class ArchitectureTests
{
    /// <summary>The only projects that may take ASP.NET Core: the web shells.</summary>
    private static readonly string[] WebShells = ["Tally.Server", "Tally.Tracker.AspNetCore", "Tally.Samples.Repository"];

    private static readonly string Root = CoreTestKit.RepositoryRoot();

    [Fact]
    public void Every_product_project_is_on_the_architecture_page_and_every_listed_project_exists()
    {
        var rules = Rules();
        var projects = ProductProjects().Keys.ToHashSet();
        Assert.Empty(projects.Except(rules.Keys));
        Assert.Empty(rules.Keys.Except(projects));
    }

    [Fact]
    public void Every_project_reference_is_one_the_architecture_page_allows()
    {
        var rules = Rules();
        var broken = ProductProjects()
            .SelectMany(project => References(project.Value).Where(reference => !Reachable(rules, project.Key).Contains(reference))
                .Select(reference => $"{project.Key} → {reference}"))
            .ToList();
        Assert.True(broken.Count == 0, "docs/architecture.md does not allow: " + string.Join(", ", broken));
    }

    [Fact]
    public void Only_the_web_shells_take_aspnet_core()
    {
        var web = ProductProjects()
            .Where(p => XDocument.Load(p.Value).Root is { } root &&
                (root.Attribute("Sdk")?.Value == "Microsoft.NET.Sdk.Web" ||
                 root.Descendants("FrameworkReference").Any(f => f.Attribute("Include")?.Value == "Microsoft.AspNetCore.App")))
            .Select(p => p.Key);
        Assert.Empty(web.Except(WebShells));
    }

    [Fact]
    public void The_cli_shares_what_it_has_in_common_with_the_http_api_through_the_core_not_the_api()
    {
        var cli = Path.Combine(Root, "src", "Tally.Cli");
        var offending = Directory.EnumerateFiles(cli, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Where(f => ServerApiUse().IsMatch(File.ReadAllText(f)))
            .Select(f => Path.GetRelativePath(Root, f));
        Assert.Empty(offending);
    }

    /// <summary>What the rule allows a project: the projects it lists and, through them, what those may depend on.</summary>
    private static HashSet<string> Reachable(Dictionary<string, List<string>> rules, string project)
    {
        var reached = new HashSet<string>();
        var next = new Stack<string>(rules[project]);
        while (next.TryPop(out var name))
        {
            if (!reached.Add(name)) continue;
            foreach (var further in rules.GetValueOrDefault(name) ?? []) next.Push(further);
        }
        return reached;
    }

    /// <summary>The "May depend on" column of docs/architecture.md, by project.</summary>
    private static Dictionary<string, List<string>> Rules()
    {
        var rules = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(Path.Combine(Root, "docs", "architecture.md")))
        {
            var cells = line.Split('|', StringSplitOptions.TrimEntries);
            if (cells.Length != 5 || ProjectName().Match(cells[1]) is not { Success: true } project) continue;
            rules[project.Groups[1].Value] = [.. ProjectName().Matches(cells[3]).Select(m => m.Groups[1].Value)];
        }
        Assert.NotEmpty(rules);
        return rules;
    }

    /// <summary>Every project that ships or runs beside the product (not the tests), by name.</summary>
    private static Dictionary<string, string> ProductProjects() =>
        new[] { "src", "bench", "samples" }
            .Select(folder => Path.Combine(Root, folder))
            .Where(Directory.Exists)
            .SelectMany(folder => Directory.EnumerateFiles(folder, "*.csproj", SearchOption.AllDirectories))
            // Build output holds generated projects (BenchmarkDotNet writes one per run), not the product's.
            .Where(path => !path.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj"))
            .ToDictionary(path => Path.GetFileNameWithoutExtension(path), StringComparer.Ordinal);

    private static IEnumerable<string> References(string csproj) =>
        XDocument.Load(csproj).Descendants("ProjectReference")
            .Select(r => Path.GetFileNameWithoutExtension(r.Attribute("Include")!.Value.Replace('\\', '/')));

    [GeneratedRegex(@"`(Tally(?:\.[A-Za-z]+)+)`")]
    private static partial Regex ProjectName();

    [GeneratedRegex(@"\bTally\.Server\.(Api|Live)\b")]
    private static partial Regex ServerApiUse();
}
