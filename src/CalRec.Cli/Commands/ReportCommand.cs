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
        var cmd = new Command("report", "Produce result tables.");
        cmd.Subcommands.Add(baselines);
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
