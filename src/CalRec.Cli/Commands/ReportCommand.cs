using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using CalRec.Bench;
using CalRec.Cli.Options;
using CalRec.Data;
using CalRec.Data.Splits;
using CalRec.MLNet;
using CalRec.Models.Checkpoints;
using CalRec.Models.Decoder;
using CalRec.Models.Embeddings;
using CalRec.Recommenders;
using CalRec.Recommenders.Evaluation;
using CalRec.Recommenders.LlmSeqSim;
using CalRec.Recommenders.MostPopular;
using CalRec.Recommenders.SasRec;
using CalRec.Reports;
using CalRec.Reports.Html;
using CalRec.Text.Tokenization;
using Microsoft.ML;
using Spectre.Console;

namespace CalRec.Cli.Commands;

/// <summary>
/// <c>calrec report baselines</c>: trains MostPopular and SASRec on a dataset's leave-one-out training split and evaluates
/// them on the test split (full ranking, seen items excluded), printing one table (or JSON lines) with confidence
/// intervals, training time and peak memory. This is the command behind docs/results.md.
/// </summary>
internal static class ReportCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "Dataset: a folder or file in any supported format, or a .db.", Required = true };
        var sasrec = new DeclaredFlags<SasRecTrainer.Options>(() => new SasRecTrainer.Options { MaxMinutes = 10 });
        var json = new Option<bool>("--json") { Description = "One JSON object per model." };
        var lm = new Option<string?>("--lm") { Description = "Text encoder for LLMSeqSim and LLM2SASRec item embeddings: 'minilm' (the pretrained sentence encoder) or a language-model folder (from calrec pretrain)." };
        var withBce = new Option<bool>("--with-bce") { Description = "Add a SASRec row trained with binary cross-entropy and one sampled negative per position (the original SASRec objective)." };
        var baselines = new Command("baselines", "Train and evaluate MostPopular, SASRec and (with --lm) LLMSeqSim and LLM2SASRec on one dataset.")
        {
            data, json, lm, withBce,
        };
        sasrec.AddTo(baselines);
        CommandRunner.SetAction(baselines, (p, ct) => Run(p.GetValue(data)!, sasrec.Read(p), p.GetValue(json), p.GetValue(lm), p.GetValue(withBce), ct));
        var cmd = new Command("report", "Produce result tables and reports.");
        cmd.Subcommands.Add(baselines);
        cmd.Subcommands.Add(Html());
        return cmd;
    }

    /// <summary>
    /// <c>calrec report html</c>: one self-contained HTML page comparing models on a dataset's test users (metrics with
    /// intervals, curves over K, paired differences, training curves from each model's metrics file, per-domain and
    /// popularity views, CALRec's grounding paths).
    /// </summary>
    private static Command Html()
    {
        var data = new Option<string>("--data") { Description = "Dataset the models were trained on: a folder or file in any supported format, or a .db.", Required = true };
        var models = new Option<string[]>("--model")
        {
            Description = "A model zip, optionally labelled as LABEL=PATH; repeat to compare (the first is the reference of the paired differences).",
            Required = true,
            AllowMultipleArgumentsPerToken = true,
        };
        var output = new Option<string>("--out") { Description = "The HTML file to write.", Required = true };
        var title = new Option<string?>("--title") { Description = "Heading of the page (default: the dataset's name)." };
        var users = new Option<int>("--users") { Description = "Evaluate a seeded sample of this many test users (0: all).", DefaultValueFactory = _ => 0 };
        var groundingUsers = new Option<int>("--grounding-users") { Description = "For CALRec models, evaluate every grounding path on this many of those users (0: skip; generation costs about 50 s per 1,000 users).", DefaultValueFactory = _ => 0 };
        var cmd = new Command("html", "Write one self-contained HTML report for a model or a comparison of models.") { data, models, output, title, users, groundingUsers };
        var reading = new DatasetArguments();
        reading.AddTo(cmd);
        CommandRunner.SetAction(cmd, (p, ct) =>
        {
            if (p.GetValue(users) < 0 || p.GetValue(groundingUsers) < 0)
            {
                throw new ArgumentException("--users and --grounding-users must be 0 or positive.");
            }

            string outPath = p.GetValue(output)!;
            string? folder = Path.GetDirectoryName(Path.GetFullPath(outPath));
            if (folder is not null && !Directory.Exists(folder))
            {
                throw new DirectoryNotFoundException($"--out: the folder {folder} does not exist.");
            }

            var loaded = new List<(string Name, string Path, RecommenderModel Model)>();
            foreach (string spec in p.GetValue(models)!)
            {
                int eq = spec.IndexOf('=', StringComparison.Ordinal);
                (string name, string path) = eq > 0 && !File.Exists(spec) ? (spec[..eq], spec[(eq + 1)..]) : (Path.GetFileNameWithoutExtension(spec), spec);
                loaded.Add((name, path, ModelFiles.Load(path)));
            }

            InteractionDataset dataset = reading.Load(p, p.GetValue(data)!);
            var clock = Stopwatch.StartNew();
            RunReport report = ReportEvaluation.Evaluate(p.GetValue(title) ?? dataset.Name, dataset, loaded, p.GetValue(users), p.GetValue(groundingUsers),
                message => Console.Error.WriteLine($"{clock.Elapsed:hh\\:mm\\:ss} {message}"), ct);
            HtmlReport.Save(report, outPath);
            AnsiConsole.MarkupLineInterpolated($"wrote {outPath}: {loaded.Count} model(s) on {report.TestUsers:N0} test users of {dataset.Name}");
            return 0;
        });
        return cmd;
    }

    private static int Run(string folder, SasRecTrainer.Options sasrec, bool json, string? lmFolder, bool withBce, CancellationToken ct)
    {
        InteractionDataset data = Data.Readers.DatasetReader.Load(folder);
        var split = new LeaveOneOutSplit(data);
        // Every model is trained through ML.NET's estimators on the dataset's interactions table and catalogue.
        var ml = new MLContext(unchecked((int)sasrec.Seed));
        SequentialRecommendationCatalog rec = ml.SequentialRecommendation();
        InteractionTables tables = rec.Data.FromDatasets([data]);
        if (!json)
        {
            TrainingLog.Attach(ml, Stopwatch.StartNew());
            AnsiConsole.MarkupLineInterpolated($"{data.Name}: {data.Users.Count:N0} users, {data.ItemCount:N0} items, {data.InteractionCount:N0} interactions; {split.Test.Count:N0} test users");
        }

        var eval = new RecommendationEvaluatorOptions { Ks = [1, 5, 10, 20] };
        var rows = new List<(string Name, RecommendationMetrics Metrics, double TrainSeconds, string Notes, double PeakMb)>();
        void Add(string name, SequentialRecommenderEstimator estimator, Func<RecommenderModel, string> notes)
        {
            using var memory = new PeakMemorySampler();
            RecommenderModel model = estimator.Fit(tables.Interactions, ct).Model;
            rows.Add((name, RecommendationEvaluator.Evaluate(model, EvaluationCases.Test(model, data), eval), model.Training.Seconds, notes(model), memory.PeakMegabytes));
        }

        SasRecEstimatorOptions SasRecOptions(SasRecTrainer.Options o) => new() { Items = tables.Items, Trainer = o };

        static string Sas(SasRecTrainer.Options o) =>
            string.Create(CultureInfo.InvariantCulture, $"({(o.Loss == SasRecLoss.CrossEntropy ? "CE" : "BCE")}, d={o.Hidden}, len={o.MaxLength}, dropout={o.Dropout})");
        static string Epochs(RecommenderModel m) => $"{m.Training.Epochs} epochs, best {m.Training.Settings["best_epoch"]}";
        Add("MostPopular", rec.Trainers.MostPopular(new MostPopularEstimatorOptions { Items = tables.Items }), _ => string.Empty);
        Add($"SASRec {Sas(sasrec)}", rec.Trainers.SasRec(SasRecOptions(sasrec)), Epochs);
        if (withBce)
        {
            SasRecTrainer.Options bce = sasrec with { Loss = SasRecLoss.BinaryCrossEntropy, NegativeSamples = 1 };
            Add($"SASRec {Sas(bce)}", rec.Trainers.SasRec(SasRecOptions(bce)), Epochs);
        }

        if (lmFolder is not null)
        {
            // One cache for every LLM row: the catalogue is embedded once (its time is in the first LLMSeqSim row).
            ITextEncoder inner;
            if (lmFolder.Equals(LanguageModelArguments.MiniLm, StringComparison.OrdinalIgnoreCase))
            {
                inner = new MiniLmTextEncoder();
            }
            else
            {
                (DecoderLM lm, ByteLevelBpeTokenizer tok) = HuggingFaceCheckpoint.LoadWithTokenizer(lmFolder);
                inner = new LanguageModelEmbedder(lm, tok, Pooling.Mean);
            }

            var encoder = new CachingTextEncoder(inner);
            foreach (SessionAggregation agg in (SessionAggregation[])[SessionAggregation.Last, SessionAggregation.Mean, SessionAggregation.HarmonicDecay])
            {
                Add($"LLMSeqSim ({agg})", rec.Trainers.LlmSeqSim(encoder, new LlmSeqSimEstimatorOptions { Items = tables.Items, Trainer = new LlmSeqSimTrainer.Options { Aggregation = agg } }), _ => "no training; embedding time");
            }

            Add($"LLM2SASRec {Sas(sasrec)}", rec.Trainers.Llm2SasRec(encoder, SasRecOptions(sasrec)), Epochs);
        }

        double peakMb = Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0;
        if (json)
        {
            foreach ((string name, RecommendationMetrics m, double secs, string notes, double rowPeak) in rows)
            {
                var o = new Dictionary<string, object>
                {
                    ["dataset"] = data.Name, ["model"] = name, ["train_seconds"] = Math.Round(secs, 1), ["peak_working_set_mb"] = Math.Round(rowPeak),
                    ["process_peak_working_set_mb"] = Math.Round(peakMb), ["notes"] = notes,
                };
                foreach ((string k, double v) in m.ToDictionary())
                {
                    o[k] = Math.Round(v, 5);
                }

                foreach (string k in m.Ks.SelectMany(k => (string[])[$"ndcg@{k}", $"hr@{k}"]))
                {
                    o[k + "_ci"] = new[] { Math.Round(m[k].Low, 5), Math.Round(m[k].High, 5) };
                }

                Console.WriteLine(JsonSerializer.Serialize(o));
            }

            return 0;
        }

        var table = new Table().AddColumns("model", "NDCG@10", "HR@10", "NDCG@20", "HR@20", "train s", "peak MB", "notes");
        // One row per model, intervals in brackets.
        foreach ((string name, RecommendationMetrics m, double secs, string notes, double rowPeak) in rows)
        {
            string[] cells = [name, m["ndcg@10"].ToString(), m["hr@10"].ToString(), m["ndcg@20"].ToString(), m["hr@20"].ToString(),
                secs.ToString("F0", CultureInfo.InvariantCulture), rowPeak.ToString("F0", CultureInfo.InvariantCulture), notes];
            table.AddRow(cells.Select(Markup.Escape).ToArray());
        }

        AnsiConsole.Write(table);
        AnsiConsole.MarkupLineInterpolated($"peak MB: working set while the row ran (after releasing pooled buffers); process peak {peakMb:F0} MB; intervals are bootstrap 95% over test users");
        return 0;
    }
}
