using System.CommandLine;
using System.Diagnostics;
using CalRec.Cli.Options;
using CalRec.Data;
using CalRec.Models.Checkpoints;
using CalRec.Models.Decoder;
using CalRec.Models.Embeddings;
using CalRec.Recommenders;
using CalRec.Recommenders.CalRec;
using CalRec.Recommenders.LlmSeqSim;
using CalRec.Recommenders.SasRec;
using CalRec.Text.Tokenization;
using Spectre.Console;

namespace CalRec.Cli.Commands;

/// <summary><c>calrec train</c>: fit a recommender on a dataset's leave-one-out training split and save it as a model zip.</summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var recommender = new Option<string>("--recommender") { Description = "calrec (default), mostpop, sasrec, llmseqsim or llm2sasrec.", DefaultValueFactory = _ => "calrec" };
        var target = new Option<string>("--target") { Description = "Training dataset: a folder or file in any supported format, or a .db.", Required = true };
        var output = new Option<string>("--out") { Description = "Model zip to write (replaced atomically).", Required = true };
        var lm = new Option<DirectoryInfo?>("--lm") { Description = "Language-model folder in Hugging Face layout (from calrec pretrain) for llmseqsim and llm2sasrec item-text embeddings." };
        var pooling = new Option<string?>("--pooling") { Description = "Pooling: mean or last (default: mean for llmseqsim/llm2sasrec text embeddings, last for calrec)." };
        var aggregation = new Option<string>("--aggregation") { Description = "LLMSeqSim session aggregation: last, mean, linear, harmonic, log.", DefaultValueFactory = _ => "last" };
        var sasrec = new SasRecArguments();
        var calrec = new CalRecArguments();
        var cmd = new Command("train", "Train a recommender and save it as a model zip.") { recommender, target, output, lm, pooling, aggregation };
        sasrec.AddTo(cmd);
        calrec.AddTo(cmd);
        var reading = new DatasetArguments();
        reading.AddTo(cmd);
        cmd.SetAction((p, ct) => Task.Run(() =>
        {
            try
            {
                string kind = p.GetValue(recommender)!.ToLowerInvariant();
                if (kind == "calrec")
                {
                    return RunCalRec(p, p.GetValue(target)!, p.GetValue(output)!, calrec, sasrec, pooling, reading, ct);
                }

                return Run(p, kind, p.GetValue(target)!, p.GetValue(output)!, p.GetValue(lm)?.FullName, p.GetValue(pooling) ?? "mean",
                    p.GetValue(aggregation)!, sasrec.Read(p), reading, ct);
            }
            catch (OperationCanceledException)
            {
                string checkpoint = p.GetValue(output)! + ".checkpoint";
                AnsiConsole.MarkupLine(Directory.Exists(checkpoint)
                    ? $"[yellow]cancelled:[/] no model written; the run is saved in {Markup.Escape(checkpoint)}: add --resume to continue it."
                    : "[yellow]cancelled:[/] no model written.");
                return 130;
            }
            catch (Exception ex) when (UserErrors.Is(ex))
            {
                return UserErrors.Report(ex);
            }
        }, CancellationToken.None));
        return cmd;
    }

    private static int Run(ParseResult p, string kind, string target, string output, string? lmFolder, string pooling, string aggregation, SasRecOptions options,
        DatasetArguments reading, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var ctx = new RecContext((int)options.Seed);
        ctx.Log += (_, e) => AnsiConsole.MarkupLineInterpolated($"[grey]{clock.Elapsed:hh\\:mm\\:ss}[/] {e.Source}: {e.Message}");
        InteractionDataset data = reading.Load(p, target);
        foreach (string w in data.Warnings)
        {
            AnsiConsole.MarkupLineInterpolated($"[yellow]warning:[/] {w}");
        }

        AnsiConsole.MarkupLineInterpolated($"{data.Name}: {data.Users.Count:N0} users, {data.ItemCount:N0} items, {data.InteractionCount:N0} interactions");
        RecommenderTrainer trainer = kind.ToLowerInvariant() switch
        {
            "mostpop" or "mostpopular" => ctx.Trainers.MostPopular(),
            "sasrec" => ctx.Trainers.SasRec(options),
            "llmseqsim" => ctx.Trainers.LlmSeqSim(Encoder(lmFolder, pooling, kind), ParseAggregation(aggregation)),
            "llm2sasrec" => ctx.Trainers.Llm2SasRec(Encoder(lmFolder, pooling, kind), options),
            _ => throw new ArgumentException($"--recommender: unknown recommender '{kind}' (mostpop, sasrec, llmseqsim, llm2sasrec)."),
        };
        RecommenderModel model = trainer.Fit(data, ct);
        ctx.Model.Save(model, output);
        AnsiConsole.MarkupLineInterpolated($"saved {model.Kind} model ({model.ItemCount:N0} items) to {output} after {clock.Elapsed.TotalSeconds:F1} s");
        return 0;
    }

    private static int RunCalRec(ParseResult p, string targetPath, string output, CalRecArguments args, SasRecArguments sasrec, Option<string?> pooling,
        DatasetArguments reading, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        string optionsPath = output + ".options.json", checkpoint = output + ".checkpoint";
        CalRecTrainer.Options options;
        if (p.GetValue(args.Resume))
        {
            if (!File.Exists(optionsPath) || !Directory.Exists(checkpoint))
            {
                throw new FileNotFoundException($"--resume: no interrupted run for {output} (expected {optionsPath} and {checkpoint}/).", optionsPath);
            }

            options = CalRecArguments.Load(optionsPath);
            options.Resume = true;
            AnsiConsole.MarkupLineInterpolated($"resuming from [green]{checkpoint}[/] with the settings in {optionsPath}");
        }
        else
        {
            options = args.Read(p, sasrec, pooling);
            options.CheckpointDirectory = Path.GetFullPath(checkpoint);
            options.Resume = false;
            if (Directory.Exists(checkpoint))
            {
                Directory.Delete(checkpoint, recursive: true);
            }

            CalRecArguments.Save(options, optionsPath);
        }

        var ctx = new RecContext((int)options.Seed);
        ctx.Log += (_, e) => AnsiConsole.MarkupLineInterpolated($"[grey]{clock.Elapsed:hh\\:mm\\:ss}[/] {e.Source}: {e.Message}");
        (InteractionDataset target, List<InteractionDataset> mixture) = CalRecData(p, targetPath, args, reading);
        CalRecTrainer trainer = ctx.Trainers.CalRec(options);
        CalRecModel model = Progress.TrainingProgressView.Run(trainer, () => trainer.Fit(target, mixture, ct));
        ctx.Model.Save(model, output);
        File.Delete(optionsPath);
        if (Directory.Exists(checkpoint))
        {
            // Stages write it at validations; a run whose stages never validate (stage 0 only, or a meta stage) leaves none.
            Directory.Delete(checkpoint, recursive: true);
        }

        AnsiConsole.MarkupLineInterpolated($"saved calrec model ({model.ItemCount:N0} items, validation NDCG@10 {model.Training.ValidationNdcg10:F4}) to {output} after {clock.Elapsed.TotalSeconds:F1} s");
        return 0;
    }

    /// <summary>
    /// The target dataset (one of its domains with --domain) and the stage-1 mixture: --mixture datasets, or else the
    /// target dataset's domains when it has several.
    /// </summary>
    internal static (InteractionDataset Target, List<InteractionDataset> Mixture) CalRecData(ParseResult p, string targetPath, CalRecArguments args, DatasetArguments reading)
    {
        InteractionDataset data = reading.Load(p, targetPath);
        foreach (string w in data.Warnings)
        {
            AnsiConsole.MarkupLineInterpolated($"[yellow]warning:[/] {w}");
        }

        string? domain = p.GetValue(args.Domain);
        InteractionDataset target = domain is null ? data : data.ForDomain(domain);
        var mixture = args.MixturePaths(p).Select(m => reading.Load(p, m)).ToList();
        if (mixture.Count == 0 && data.Domains.Count > 1)
        {
            mixture = data.Domains.Select(d => d == domain ? target : data.ForDomain(d)).ToList();
        }

        AnsiConsole.MarkupLineInterpolated($"target {target.Name}: {target.Users.Count:N0} users, {target.ItemCount:N0} items, {target.InteractionCount:N0} interactions; mixture: {(mixture.Count == 0 ? "none" : string.Join(", ", mixture.Select(m => $"{m.Name} ({m.Users.Count:N0} users)")))}");
        return (target, mixture);
    }

    private static LanguageModelEmbedder Encoder(string? folder, string pooling, string kind)
    {
        if (folder is null)
        {
            throw new ArgumentException($"--recommender {kind} needs --lm: a language-model folder (for example from 'calrec pretrain --out DIR', then DIR/model).");
        }

        (DecoderLM lm, BpeTokenizer? tok) = HuggingFaceCheckpoint.Load(folder);
        Pooling mode = pooling.ToLowerInvariant() switch
        {
            "mean" => Pooling.Mean,
            "last" => Pooling.LastToken,
            _ => throw new ArgumentException($"--pooling: '{pooling}' is not mean or last."),
        };
        return new LanguageModelEmbedder(lm, tok ?? throw new InvalidDataException($"{folder}: no tokenizer.json."), mode);
    }

    private static SessionAggregation ParseAggregation(string text) => text.ToLowerInvariant() switch
    {
        "last" => SessionAggregation.Last,
        "mean" => SessionAggregation.Mean,
        "linear" => SessionAggregation.LinearDecay,
        "harmonic" => SessionAggregation.HarmonicDecay,
        "log" => SessionAggregation.LogDecay,
        _ => throw new ArgumentException($"--aggregation: '{text}' is not last, mean, linear, harmonic or log."),
    };
}
