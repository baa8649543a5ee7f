using System.CommandLine;
using CalRec.Data;
using CalRec.MLNet;
using CalRec.Recommenders.CalRec;
using Spectre.Console;

namespace CalRec.Cli.Options;

/// <summary>
/// CALRec's command-line settings: every <see cref="CalRecTrainer.Options"/> setting as a flag generated from its
/// declaration, a JSON config file with the same property names (flags override it), the data of the two stages
/// (<c>--mixture</c>, <c>--domain</c>) and <c>--resume</c>.
/// </summary>
internal sealed class CalRecArguments(Func<CalRecTrainer.Options> defaults)
{
    public CalRecArguments()
        : this(() => new CalRecTrainer.Options())
    {
    }

    public DeclaredFlags<CalRecTrainer.Options> Settings { get; } = new(defaults);

    public Option<FileInfo?> Config { get; } = new("--config") { Description = "CALRec settings as JSON (property names of CalRecTrainer.Options); flags override it." };

    public Option<string[]> Mixture { get; } = new("--mixture")
    {
        Description = "Mixture datasets, comma-separated (include the target to mix it in): the tokenizer's and stage 0's corpus, and stage 1's domains when it runs (--stage1-epochs 1); default: the target's domains when it has several.",
        AllowMultipleArgumentsPerToken = true,
    };

    public Option<string?> Domain { get; } = new("--domain") { Description = "Train and evaluate on this domain of the target dataset (its other domains join the mixture)." };

    public Option<bool> Resume { get; } = new("--resume") { Description = "Continue an interrupted run from OUT.checkpoint with the settings saved in it (give its --target and --mixture again)." };

    public void AddTo(Command command, bool resumable = true)
    {
        command.Options.Add(Config);
        command.Options.Add(Mixture);
        command.Options.Add(Domain);
        if (resumable)
        {
            command.Options.Add(Resume);
        }

        Settings.AddTo(command);
    }

    /// <summary>The mixture dataset paths (comma-separated or repeated).</summary>
    public IReadOnlyList<string> MixturePaths(ParseResult p) =>
        (p.GetValue(Mixture) ?? []).SelectMany(s => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();

    /// <summary>
    /// The target dataset (one of its domains with --domain) and the stage-1 mixture: --mixture datasets, or else the
    /// target dataset's domains when it has several.
    /// </summary>
    public (InteractionDataset Target, List<InteractionDataset> Mixture) TargetAndMixture(ParseResult p, string targetPath, Func<string, InteractionDataset> load)
    {
        InteractionDataset data = load(targetPath);
        string? domain = p.GetValue(Domain);
        InteractionDataset target = domain is null ? data : data.ForDomain(domain);
        var mixture = MixturePaths(p).Select(load).ToList();
        if (mixture.Count == 0 && data.Domains.Count > 1)
        {
            mixture = data.Domains.Select(d => d == domain ? target : data.ForDomain(d)).ToList();
        }

        AnsiConsole.MarkupLineInterpolated($"target {target.Name}: {target.Users.Count:N0} users, {target.ItemCount:N0} items, {target.InteractionCount:N0} interactions; mixture: {(mixture.Count == 0 ? "none" : string.Join(", ", mixture.Select(m => $"{m.Name} ({m.Users.Count:N0} users)")))}");
        return (target, mixture);
    }

    /// <summary>
    /// The target and the mixture as ML.NET tables: one interactions table and one catalogue holding them all, the domain
    /// stage 2 trains on and the domains of stage 1 (exactly the mixture's, so a target left out of it stays out).
    /// </summary>
    public static (InteractionTables Tables, string? TargetDomain, IReadOnlyList<string>? MixtureDomains) Tables(SequentialRecommendationData data,
        InteractionDataset target, IReadOnlyList<InteractionDataset> mixture)
    {
        if (mixture.Count == 0)
        {
            return (data.FromDatasets([target]), null, null);
        }

        IReadOnlyList<string> targetDomains = target.Domains;
        if (targetDomains.Count != 1)
        {
            throw new ArgumentException($"the target {target.Name} spans {targetDomains.Count} domains; choose one with --domain.");
        }

        return (data.FromDatasets([target, .. mixture]), targetDomains[0], [.. mixture.SelectMany(m => m.Domains).Distinct(StringComparer.Ordinal)]);
    }

    /// <summary>Settings from the config file (or the defaults), with explicit flags applied on top.</summary>
    public CalRecTrainer.Options Read(ParseResult p) => Settings.Read(p, p.GetValue(Config) is FileInfo file ? Load(file.FullName) : null);

    public static CalRecTrainer.Options Load(string path) => CalRecTrainer.Options.FromJson(File.ReadAllText(path), path);
}
