using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using CalRec.Recommenders.CalRec;

namespace CalRec.Cli.Options;

/// <summary>
/// CALRec's command-line settings: every <see cref="CalRecTrainer.Options"/> setting as a flag generated from its
/// declaration, a JSON config file with the same property names (flags override it), the data of the two stages
/// (<c>--mixture</c>, <c>--domain</c>) and <c>--resume</c>.
/// </summary>
internal sealed class CalRecArguments(Func<CalRecTrainer.Options> defaults)
{
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNameCaseInsensitive = true,
        WriteIndented = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        Converters = { new JsonStringEnumConverter() },
    };

    public CalRecArguments()
        : this(() => new CalRecTrainer.Options())
    {
    }

    public DeclaredFlags<CalRecTrainer.Options> Settings { get; } = new(defaults);

    public Option<FileInfo?> Config { get; } = new("--config") { Description = "CALRec settings as JSON (property names of CalRecTrainer.Options); flags override it." };

    public Option<string[]> Mixture { get; } = new("--mixture")
    {
        Description = "Stage-1 datasets, comma-separated (include the target to mix it in); default: the target's domains when it has several.",
        AllowMultipleArgumentsPerToken = true,
    };

    public Option<string?> Domain { get; } = new("--domain") { Description = "Train and evaluate on this domain of the target dataset (its other domains join the mixture)." };

    public Option<bool> Resume { get; } = new("--resume") { Description = "Continue an interrupted run from OUT.checkpoint with the settings saved in OUT.options.json." };

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

    /// <summary>Settings from the config file (or the defaults), with explicit flags applied on top.</summary>
    public CalRecTrainer.Options Read(ParseResult p) => Settings.Read(p, p.GetValue(Config) is FileInfo file ? Load(file.FullName) : null);

    public static CalRecTrainer.Options Load(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<CalRecTrainer.Options>(File.ReadAllText(path), Json)
                ?? throw new FormatException($"{path}: the config file is empty.");
        }
        catch (JsonException ex)
        {
            throw new FormatException($"{path}: invalid CALRec config at line {(ex.LineNumber ?? 0) + 1}, field '{ex.Path}': {ex.Message}", ex);
        }
    }

    public static void Save(CalRecTrainer.Options options, string path)
    {
        string tmp = path + ".tmp";
        File.WriteAllText(tmp, JsonSerializer.Serialize(options, Json));
        File.Move(tmp, path, overwrite: true);
    }
}
