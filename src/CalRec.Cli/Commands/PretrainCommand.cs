using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using CalRec.Cli.Options;
using CalRec.Data.Readers;
using CalRec.Data.Splits;
using CalRec.Models.Checkpoints;
using CalRec.Models.Configuration;
using CalRec.Models.Decoder;
using CalRec.Models.Training;
using CalRec.Recommenders.CalRec;
using CalRec.Text.Tokenization;
using CalRec.Torch.Devices;
using CalRec.Torch.Training;
using Spectre.Console;
using Device = TorchSharp.torch.Device;

namespace CalRec.Cli.Commands;

/// <summary>
/// <c>calrec pretrain</c>: causal-LM pretraining of a decoder on catalogue text. Writes <c>OUT/model</c> (best by validation
/// loss, Hugging Face layout), <c>OUT/checkpoint</c> (resumable: weights, optimizer moments, data position, RNG states) and
/// <c>OUT/train_log.jsonl</c> (one JSON object per step). <c>--resume</c> continues the run in OUT with its saved settings.
/// </summary>
internal static class PretrainCommand
{
    public static Command Create()
    {
        var corpus = new Option<FileInfo[]>("--corpus") { Description = "Text files, one document per line.", AllowMultipleArgumentsPerToken = true };
        var data = new Option<DirectoryInfo[]>("--data") { Description = "Datasets (any supported format): item texts, and histories serialized from each user's leave-one-out training part (validation and test items never enter the corpus).", AllowMultipleArgumentsPerToken = true };
        var config = new Option<string>("--config") { Description = "Model preset: tiny, mini, small or base (built in), or a Hugging Face config.json path.", DefaultValueFactory = _ => "small" };
        var tokenizer = new Option<FileInfo?>("--tokenizer") { Description = "Existing tokenizer.json (default: train one on the corpus)." };
        var output = new Option<DirectoryInfo>("--out") { Description = "Run folder.", Required = true };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out from its checkpoint, with its saved settings." };
        var settings = new DeclaredFlags<PretrainingOptions>(() => new PretrainingOptions());
        var engine = new BackendArguments();
        var cmd = new Command("pretrain", "Pretrain a decoder LM on catalogue text (items and training histories).") { corpus, data, config, tokenizer, output, resume };
        settings.AddTo(cmd);
        engine.AddTo(cmd, precision: true);
        CommandRunner.SetAction(cmd, (p, ct) =>
        {
            var run = new JsonObject
            {
                ["corpus"] = new JsonArray((p.GetValue(corpus) ?? []).Select(f => (JsonNode)f.FullName).ToArray()),
                ["data"] = new JsonArray((p.GetValue(data) ?? []).Select(d => (JsonNode)d.FullName).ToArray()),
                ["config"] = DecoderPresets.Find(p.GetValue(config)!) is null ? Path.GetFullPath(p.GetValue(config)!) : p.GetValue(config)!,
                ["tokenizer"] = p.GetValue(tokenizer)?.FullName,
                ["options"] = JsonSerializer.SerializeToNode(settings.Read(p)),
            };
            (ComputeBackend backend, Device device) = engine.Resolve(p);
            run["backend"] = backend.ToString();
            run["device"] = device.ToString();
            run["precision"] = engine.ResolvePrecision(p, backend).ToString();
            return Run(p.GetValue(output)!.FullName, run, p.GetValue(resume), backend, device, ct);
        }, p => $"checkpoint in {Path.Combine(p.GetValue(output)!.FullName, "checkpoint")}; continue with --out {p.GetValue(output)!.FullName} --resume.");
        return cmd;
    }

    private static int Run(string outDir, JsonObject settings, bool resume, ComputeBackend backend, Device device, CancellationToken ct)
    {
        string checkpointDir = Path.Combine(outDir, "checkpoint"), modelDir = Path.Combine(outDir, "model"), logPath = Path.Combine(outDir, "train_log.jsonl");
        DecoderLM model;
        ByteLevelBpeTokenizer tok;
        if (resume)
        {
            if (!Directory.Exists(checkpointDir))
            {
                throw new DirectoryNotFoundException($"--resume: {checkpointDir} does not exist.");
            }

            (model, tok) = HuggingFaceCheckpoint.LoadWithTokenizer(checkpointDir);
            settings = JsonNode.Parse(File.ReadAllText(Path.Combine(checkpointDir, "trainer_state.json")))!["extra"]!.AsObject().DeepClone().AsObject();
            if (settings["options"] is null)
            {
                throw new InvalidDataException($"{checkpointDir} was written by an older calrec (settings without 'options'); start a new run in another --out.");
            }

            // The run continues on the engine and device it started on.
            if (settings["backend"]?.GetValue<string>() is string savedBackend)
            {
                backend = Enum.Parse<ComputeBackend>(savedBackend);
                device = new Device(settings["device"]!.GetValue<string>());
            }

            AnsiConsole.MarkupLineInterpolated($"resuming [green]{checkpointDir}[/]");
        }
        else
        {
            if (Directory.Exists(checkpointDir))
            {
                throw new ArgumentException($"{outDir} already holds a run; use --resume to continue it or choose another --out.");
            }

            tok = null!;
            model = null!;
        }

        List<string> lines = CorpusLines(settings);
        List<TrainingSource> sources = settings["data"]!.AsArray()
            .Select(n => TrainingSource.FromSplit(new LeaveOneOutSplit(DatasetReader.Load(n!.GetValue<string>())))).ToList();
        if (lines.Count + sources.Sum(s => s.Items.Count) < 2)
        {
            throw new ArgumentException("The corpus is empty: give --corpus files and/or --data folders with text.");
        }

        PretrainingOptions o = settings["options"]!.Deserialize<PretrainingOptions>()!;
        ulong seed = o.Seed;
        if (!resume)
        {
            string configName = settings["config"]!.GetValue<string>();
            DecoderConfig preset = DecoderPresets.Find(configName) ?? DecoderConfig.Load(configName);
            string? tokPath = settings["tokenizer"]?.GetValue<string>();
            if (tokPath is not null)
            {
                tok = ByteLevelBpeTokenizer.FromFile(tokPath);
            }
            else
            {
                int vocabSize = o.VocabularySize > 0 ? o.VocabularySize : preset.VocabSize;
                List<string> texts = [.. lines, .. sources.SelectMany(s => s.Items).Select(i => i.ToText()).Where(t => t.Length > 0)];
                AnsiConsole.MarkupLineInterpolated($"training a {vocabSize}-id byte-level BPE tokenizer on {texts.Count:N0} texts (corpus lines and item texts)");
                tok = ByteLevelBpeTokenizer.Train(texts, new BpeTrainerOptions { VocabularySize = vocabSize, SpecialTokens = [.. SpecialTokens.All] });
            }

            model = new DecoderLM(preset with { VocabSize = tok.VocabularySize, EosTokenId = tok.TokenToId(SpecialTokens.EndOfText) }, seed);
        }

        int seq = o.SequenceLength;
        int eos = tok.TokenToId(SpecialTokens.EndOfText) ?? 0;
        // Histories come from the leave-one-out training part only: no user's validation or test item reaches the LM.
        var corpus = PretrainingCorpus.Create(sources, tok, template: null, o.MaxHistory, maxItemTokens: seq);
        List<IReadOnlyList<int>> docs = [.. lines.Select(l => (IReadOnlyList<int>)tok.EncodeToIds(l)), .. corpus.Documents];
        var order = Enumerable.Range(0, docs.Count).ToArray();
        new CalRec.Tensors.SeededRandom(seed ^ 0xD1B54A32D192ED03UL).Shuffle<int>(order);
        int valCount = Math.Max(1, docs.Count / 20);
        var encoded = order.Select(i => docs[i]).ToList();
        var valData = new PackedTokenDataset(encoded.Take(valCount), eos, seq);
        var trainData = new PackedTokenDataset(encoded.Skip(valCount), eos, seq);
        CausalLmTrainerOptions options = o.ToTrainerOptions();
        // The run's precision (a resumed run keeps the one it started with).
        TrainingPrecision precision = Enum.Parse<TrainingPrecision>(settings["precision"]?.GetValue<string>() ?? nameof(TrainingPrecision.Float32));
        ICausalLmBackend engine = BackendArguments.CausalLm(backend, device, model, options, precision);
        var trainer = new CausalLmTrainer(engine, options);
        if (resume)
        {
            trainer.RestoreCheckpoint(checkpointDir);
            TruncateLog(logPath, trainer.Step);
        }
        else
        {
            Directory.CreateDirectory(outDir);
            File.WriteAllText(logPath, string.Empty);
        }

        AnsiConsole.MarkupLineInterpolated($"{model.Config.ModelType} decoder, {model.parameter_count():N0} parameters, on {engine.Name} ({device}); {trainData.TokenCount:N0} training and {valData.TokenCount:N0} validation tokens; steps {trainer.Step}..{options.Steps} of {options.BatchSize}x{seq}");
        int checkpointEvery = Math.Max(1, o.CheckpointEvery);
        using (var log = new StreamWriter(logPath, append: true))
        {
            trainer.Progress += (_, r) =>
            {
                var line = new JsonObject { ["step"] = r.Step, ["loss"] = r.Loss, ["lr"] = r.LearningRate, ["tokens_per_s"] = Math.Round(r.TokensPerSecond, 1) };
                if (r.ValidationLoss is float v)
                {
                    line["val_loss"] = v;
                    line["val_ppl"] = Math.Round(Math.Exp(v), 3);
                }

                log.WriteLine(line.ToJsonString());
                log.Flush();
                if (r.ValidationLoss is float vl)
                {
                    if (trainer.BestValidationLoss == vl)
                    {
                        AtomicDirectory.Write(modelDir, tmp => engine.WriteModel(tmp, tok));
                    }

                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"step {r.Step,6}  loss {r.Loss:F3}  val loss {vl:F3}  val ppl {Math.Exp(vl):F2}  {r.TokensPerSecond:F0} tok/s"));
                }
                else if (r.Step % 10 == 0)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"step {r.Step,6}  loss {r.Loss:F3}  lr {r.LearningRate:E2}  {r.TokensPerSecond:F0} tok/s  ETA {r.Remaining:hh\\:mm\\:ss}"));
                }
            };
            // Checkpoints every --checkpoint-every steps, after validations and when cancelled (then the run stops here).
            trainer.Train(trainData, valData.WindowCount > 0 ? valData : null, ct,
                new CausalLmCheckpointing(t => t.SaveCheckpoint(checkpointDir, tok, settings)) { EverySteps = checkpointEvery });
        }

        trainer.SaveCheckpoint(checkpointDir, tok, settings);
        if (!Directory.Exists(modelDir))
        {
            AtomicDirectory.Write(modelDir, tmp => engine.WriteModel(tmp, tok));
        }

        string why = trainer.StoppedEarly ? "stopped early" : "done";
        AnsiConsole.MarkupLineInterpolated($"{why} at step {trainer.Step}; best validation loss {trainer.BestValidationLoss?.ToString("F3", CultureInfo.InvariantCulture) ?? "-"}; model in [green]{modelDir}[/], checkpoint in {checkpointDir}");
        return 0;
    }

    private static List<string> CorpusLines(JsonObject settings)
    {
        var lines = new List<string>();
        foreach (string file in settings["corpus"]!.AsArray().Select(n => n!.GetValue<string>()))
        {
            lines.AddRange(File.ReadLines(file).Where(l => l.Length > 0));
        }

        return lines;
    }

    private static void TruncateLog(string path, int step)
    {
        if (!File.Exists(path))
        {
            return;
        }

        var keep = File.ReadLines(path).Where(l => l.Length > 0 && JsonDocument.Parse(l).RootElement.GetProperty("step").GetInt32() <= step).ToList();
        File.WriteAllLines(path, keep);
    }
}
