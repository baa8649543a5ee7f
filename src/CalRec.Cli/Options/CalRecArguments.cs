using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using CalRec.Models.Embeddings;
using CalRec.Recommenders.CalRec;
using CalRec.Recommenders.MetaLearning;
using CalRec.Recommenders.SasRec;

namespace CalRec.Cli.Options;

/// <summary>
/// CALRec's command-line settings: a JSON config file (<see cref="CalRecTrainer.Options"/>'s properties) overridden by
/// flags. Flags shared with SASRec (<c>--batch-size</c>, <c>--patience</c>, <c>--seed</c>, <c>--pooling</c>) apply only
/// when given explicitly.
/// </summary>
internal sealed class CalRecArguments
{
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNameCaseInsensitive = true,
        WriteIndented = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        Converters = { new JsonStringEnumConverter() },
    };

    public Option<FileInfo?> Config { get; } = new("--config") { Description = "CALRec settings as JSON (property names of CalRecTrainer.Options); flags override it." };

    public Option<string[]> Mixture { get; } = new("--mixture")
    {
        Description = "Stage-1 datasets, comma-separated (include the target to mix it in); default: the target's domains when it has several.",
        AllowMultipleArgumentsPerToken = true,
    };

    public Option<string?> Domain { get; } = new("--domain") { Description = "Train and evaluate on this domain of the target dataset (its other domains join the mixture)." };

    public Option<string?> Backbone { get; } = new("--backbone") { Description = "Preset (tiny, mini, small, base), a config.json, or a Hugging Face checkpoint folder to finetune." };

    public Option<string?> Template { get; } = new("--template") { Description = "Item text template, e.g. \"title: {title}; brand: {brand}\"." };

    public Option<int?> LoraRank { get; } = new("--lora-rank") { Description = "Finetune with LoRA adapters of this rank (default: full finetuning)." };

    public Option<float?> Temperature { get; } = new("--temperature") { Description = "InfoNCE temperature." };

    public Option<float?> LmWeight { get; } = new("--w-lm") { Description = "Weight of the next-item generation loss." };

    public Option<float?> ItemItemWeight { get; } = new("--w-tt") { Description = "Weight of the item-in-context vs item InfoNCE." };

    public Option<float?> UserItemWeight { get; } = new("--w-ut") { Description = "Weight of the history vs next item InfoNCE." };

    public Option<int?> PretrainSteps { get; } = new("--pretrain-steps") { Description = "Stage-0 LM pretraining steps for a backbone trained from scratch (0: skip)." };

    public Option<string?> SavePretrained { get; } = new("--save-pretrained") { Description = "Save the stage-0 backbone to this folder (reuse it with --backbone DIR)." };

    public Option<int?> Stage1Epochs { get; } = new("--stage1-epochs") { Description = "Stage-1 (mixture) epochs; 0 skips the stage." };

    public Option<int?> Stage2Epochs { get; } = new("--stage2-epochs") { Description = "Stage-2 (target) epochs; 0 skips the stage." };

    public Option<float?> Stage1Lr { get; } = new("--stage1-lr") { Description = "Stage-1 peak learning rate." };

    public Option<float?> Stage2Lr { get; } = new("--stage2-lr") { Description = "Stage-2 peak learning rate." };

    public Option<double?> Stage1Minutes { get; } = new("--stage1-minutes") { Description = "Stage-1 time budget in minutes." };

    public Option<double?> Stage2Minutes { get; } = new("--stage2-minutes") { Description = "Stage-2 time budget in minutes." };

    public Option<int?> Stage1Steps { get; } = new("--stage1-steps") { Description = "Stage-1 step budget (gradient steps; meta-learning counts inner and query steps)." };

    public Option<int?> Stage2Steps { get; } = new("--stage2-steps") { Description = "Stage-2 step budget (gradient steps)." };

    public Option<string?> MixtureSampling { get; } = new("--mixture-sampling") { Description = "proportional, or temperature:T (domain weight n^(1/T))." };

    public Option<int?> MaxHistory { get; } = new("--max-history") { Description = "Most recent items per serialized history." };

    public Option<int?> MaxItemTokens { get; } = new("--max-item-tokens") { Description = "Tokens kept of each item text." };

    public Option<int?> ValidationUsers { get; } = new("--validation-users") { Description = "Validation users for model selection (0: all)." };

    public Option<int?> VocabSize { get; } = new("--vocab-size") { Description = "Vocabulary of the tokenizer trained for a from-scratch backbone." };

    public Option<string?> Meta { get; } = new("--meta") { Description = "Stage 1 as meta-learning over the mixture's datasets: reptile or fomaml." };

    public Option<int?> MetaInnerSteps { get; } = new("--meta-inner-steps") { Description = "Inner SGD steps per task." };

    public Option<float?> MetaInnerLr { get; } = new("--meta-inner-lr") { Description = "Inner SGD learning rate." };

    public Option<float?> MetaOuterLr { get; } = new("--meta-outer-lr") { Description = "Outer learning rate (Reptile's interpolation, FOMAML's AdamW step)." };

    public Option<string?> MetaTasks { get; } = new("--meta-tasks") { Description = "Task sampling: uniform or proportional." };

    public Option<int?> FewShot { get; } = new("--few-shot") { Description = "Stage 2 on only the first N target training windows." };

    public Option<bool> Resume { get; } = new("--resume") { Description = "Continue an interrupted run from OUT.checkpoint with the settings saved in OUT.options.json." };

    private Option[] All => [Config, Mixture, Domain, Backbone, Template, LoraRank, Temperature, LmWeight, ItemItemWeight, UserItemWeight, PretrainSteps, SavePretrained, Stage1Epochs,
        Stage2Epochs, Stage1Lr, Stage2Lr, Stage1Minutes, Stage2Minutes, Stage1Steps, Stage2Steps, MixtureSampling, MaxHistory, MaxItemTokens, ValidationUsers, VocabSize, Meta, MetaInnerSteps, MetaInnerLr, MetaOuterLr, MetaTasks, FewShot, Resume];

    public void AddTo(Command command)
    {
        foreach (Option o in All)
        {
            command.Options.Add(o);
        }
    }

    /// <summary>The mixture dataset paths (comma-separated or repeated).</summary>
    public IReadOnlyList<string> MixturePaths(ParseResult p) =>
        (p.GetValue(Mixture) ?? []).SelectMany(s => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();

    /// <summary>Settings from the config file (or defaults), with explicit flags applied on top.</summary>
    public CalRecTrainer.Options Read(ParseResult p, SasRecArguments shared, Option<string?> pooling, CalRecTrainer.Options? defaults = null)
    {
        CalRecTrainer.Options o = p.GetValue(Config) is FileInfo file ? Load(file.FullName) : defaults ?? new CalRecTrainer.Options();
        Set(p, Backbone, v => o.Backbone = v!);
        Set(p, Template, v => o.Template = v);
        Set(p, LoraRank, v => o.LoraRank = v!.Value);
        Set(p, Temperature, v => o.Temperature = v!.Value);
        Set(p, LmWeight, v => o.LmWeight = v!.Value);
        Set(p, ItemItemWeight, v => o.ItemItemWeight = v!.Value);
        Set(p, UserItemWeight, v => o.UserItemWeight = v!.Value);
        Set(p, PretrainSteps, v => o.PretrainSteps = v!.Value);
        Set(p, SavePretrained, v => o.SavePretrainedTo = v is null ? null : Path.GetFullPath(v));
        Set(p, Stage1Epochs, v => o.Stage1.Epochs = v!.Value);
        Set(p, Stage2Epochs, v => o.Stage2.Epochs = v!.Value);
        Set(p, Stage1Lr, v => o.Stage1.LearningRate = v!.Value);
        Set(p, Stage2Lr, v => o.Stage2.LearningRate = v!.Value);
        Set(p, Stage1Minutes, v => o.Stage1.MaxMinutes = v!.Value);
        Set(p, Stage2Minutes, v => o.Stage2.MaxMinutes = v!.Value);
        Set(p, Stage1Steps, v => o.Stage1.MaxSteps = v!.Value);
        Set(p, Stage2Steps, v => o.Stage2.MaxSteps = v!.Value);
        Set(p, MaxHistory, v => o.MaxHistory = v!.Value);
        Set(p, MaxItemTokens, v => o.MaxItemTokens = v!.Value);
        Set(p, ValidationUsers, v => o.ValidationUsers = v!.Value);
        Set(p, VocabSize, v => o.VocabularySize = v!.Value);
        Set(p, FewShot, v => o.Stage2.MaxExamples = v!.Value);
        Set(p, Meta, v =>
        {
            o.Meta ??= new MetaLearningOptions();
            o.Meta.Algorithm = v!.ToLowerInvariant() switch
            {
                "reptile" => MetaAlgorithm.Reptile,
                "fomaml" or "maml" => MetaAlgorithm.FirstOrderMaml,
                _ => throw new ArgumentException($"--meta: '{v}' is not reptile or fomaml."),
            };
        });
        if (o.Meta is { } meta)
        {
            Set(p, MetaInnerSteps, v => meta.InnerSteps = v!.Value);
            Set(p, MetaInnerLr, v => meta.InnerLearningRate = v!.Value);
            Set(p, MetaOuterLr, v => meta.OuterLearningRate = v!.Value);
            Set(p, MetaTasks, v => meta.TaskSampling = v!.ToLowerInvariant() switch
            {
                "uniform" => TaskSampling.Uniform,
                "proportional" => TaskSampling.Proportional,
                _ => throw new ArgumentException($"--meta-tasks: '{v}' is not uniform or proportional."),
            });
        }
        else if (p.GetValue(MetaInnerSteps) is not null || p.GetValue(MetaInnerLr) is not null || p.GetValue(MetaOuterLr) is not null || p.GetValue(MetaTasks) is not null)
        {
            throw new ArgumentException("--meta-* settings need --meta reptile|fomaml (or a config file with \"meta\").");
        }

        Set(p, shared.BatchSize, v => o.BatchSize = v);
        Set(p, shared.Patience, v => o.Patience = v);
        Set(p, shared.Seed, v => o.Seed = v);
        Set(p, pooling, v => o.Pooling = ParsePooling(v!));
        Set(p, MixtureSampling, v =>
        {
            if (string.Equals(v, "proportional", StringComparison.OrdinalIgnoreCase))
            {
                o.MixtureSampling = Recommenders.CalRec.MixtureSampling.Proportional;
            }
            else if (v!.StartsWith("temperature:", StringComparison.OrdinalIgnoreCase)
                && float.TryParse(v["temperature:".Length..], NumberStyles.Float, CultureInfo.InvariantCulture, out float t) && t > 0)
            {
                o.MixtureSampling = Recommenders.CalRec.MixtureSampling.Temperature;
                o.MixtureTemperature = t;
            }
            else
            {
                throw new ArgumentException($"--mixture-sampling: '{v}' is not 'proportional' or 'temperature:T' with T > 0.");
            }
        });
        return o;
    }

    public static Pooling ParsePooling(string text) => text.ToLowerInvariant() switch
    {
        "mean" => Pooling.Mean,
        "last" or "lasttoken" or "last-token" => Pooling.LastToken,
        _ => throw new ArgumentException($"--pooling: '{text}' is not mean or last."),
    };

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

    private static void Set<T>(ParseResult p, Option<T> option, Action<T> apply)
    {
        if (p.GetResult(option) is { Implicit: false })
        {
            apply(p.GetValue(option)!);
        }
    }
}
