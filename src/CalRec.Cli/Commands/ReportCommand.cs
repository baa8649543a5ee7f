using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using CalRec.Bench;
using CalRec.Cli.Options;
using CalRec.Data;
using CalRec.Data.Splits;
using CalRec.Models.Checkpoints;
using CalRec.Models.Decoder;
using CalRec.Models.Embeddings;
using CalRec.Recommenders.Evaluation;
using CalRec.Recommenders.LlmSeqSim;
using CalRec.Recommenders.MostPopular;
using CalRec.Recommenders.SasRec;
using CalRec.Tensors.LinearAlgebra;
using CalRec.Text.Tokenization;
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
        var sasrec = new SasRecArguments();
        var json = new Option<bool>("--json") { Description = "One JSON object per model." };
        var lm = new Option<DirectoryInfo?>("--lm") { Description = "Language-model folder (from calrec pretrain) for LLMSeqSim and LLM2SASRec item embeddings." };
        var withBce = new Option<bool>("--with-bce") { Description = "Add a SASRec row trained with binary cross-entropy and one sampled negative per position (the original SASRec objective)." };
        var baselines = new Command("baselines", "Train and evaluate MostPopular, SASRec and (with --lm) LLMSeqSim and LLM2SASRec on one dataset.")
        {
            data, json, lm, withBce,
        };
        sasrec.AddTo(baselines);
        baselines.SetAction((p, ct) => Task.Run(() =>
        {
            try
            {
                SasRecOptions options = sasrec.Read(p);
                return Run(p.GetValue(data)!, options with { TimeBudget = options.TimeBudget ?? TimeSpan.FromMinutes(10) }, p.GetValue(json), p.GetValue(lm)?.FullName, p.GetValue(withBce), ct);
            }
            catch (Exception ex) when (UserErrors.Is(ex))
            {
                return UserErrors.Report(ex);
            }
        }, CancellationToken.None));
        var cmd = new Command("report", "Produce result tables.");
        cmd.Subcommands.Add(baselines);
        return cmd;
    }

    private static int Run(string folder, SasRecOptions sasrec, bool json, string? lmFolder, bool withBce, CancellationToken ct)
    {
        InteractionDataset data = Data.Readers.DatasetReader.Load(folder);
        var split = new LeaveOneOutSplit(data);
        if (!json)
        {
            AnsiConsole.MarkupLineInterpolated($"{data.Name}: {data.Users.Count:N0} users, {data.ItemCount:N0} items, {data.InteractionCount:N0} interactions; {split.Test.Count:N0} test users");
        }

        var eval = new RankingEvaluatorOptions { Ks = [1, 5, 10, 20] };
        var rows = new List<(string Name, RankingMetrics Metrics, double TrainSeconds, string Notes, double PeakMb)>();
        var clock = Stopwatch.StartNew();
        using (var memory = new PeakMemorySampler())
        {
            var pop = new MostPopularScorer(split.Train, data.ItemCount);
            rows.Add(("MostPopular", RankingEvaluator.Evaluate(pop, split.Test, eval), clock.Elapsed.TotalSeconds, string.Empty, memory.PeakMegabytes));
        }

        using (var memory = new PeakMemorySampler())
        {
            rows.Add(WithPeak(TrainSasRec("SASRec", split, sasrec, json, eval, ct), memory));
        }

        if (withBce)
        {
            using var memory = new PeakMemorySampler();
            rows.Add(WithPeak(TrainSasRec("SASRec", split, sasrec with { Loss = SasRecLoss.BinaryCrossEntropy, NegativeSamples = 1 }, json, eval, ct), memory));
        }

        if (lmFolder is not null)
        {
            var memory = new PeakMemorySampler();
            clock.Restart();
            (DecoderLM lm, BpeTokenizer? tok) = HuggingFaceCheckpoint.Load(lmFolder);
            var embedder = new LanguageModelEmbedder(lm, tok ?? throw new InvalidDataException($"{lmFolder}: no tokenizer.json."), Pooling.Mean);
            float[] itemVectors = embedder.Encode(data.Items.Select(i => i.ToText()).ToList(), ct);
            double embedSeconds = clock.Elapsed.TotalSeconds;
            if (!json)
            {
                AnsiConsole.MarkupLineInterpolated($"  embedded {data.ItemCount:N0} item texts with {Path.GetFileName(lmFolder)} ({lm.parameter_count():N0} parameters) in {embedSeconds:F0} s");
            }

            foreach (SessionAggregation agg in (SessionAggregation[])[SessionAggregation.Last, SessionAggregation.Mean, SessionAggregation.HarmonicDecay])
            {
                var sim = new LlmSeqSimScorer(itemVectors, embedder.Dimension, agg);
                rows.Add(($"LLMSeqSim ({agg})", RankingEvaluator.Evaluate(sim, split.Test, eval), embedSeconds, "no training; embedding time", memory.PeakMegabytes));
            }

            memory.Dispose();
            using var llm2 = new PeakMemorySampler();
            Pca pca = Pca.Fit(itemVectors, embedder.Dimension, sasrec.Hidden);
            rows.Add(WithPeak(TrainSasRec("LLM2SASRec", split, sasrec with { InitialItemEmbeddings = pca.Transform(itemVectors) }, json, eval, ct), llm2));
        }

        double peakMb = Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0;
        if (json)
        {
            foreach ((string name, RankingMetrics m, double secs, string notes, double rowPeak) in rows)
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
        foreach ((string name, RankingMetrics m, double secs, string notes, double rowPeak) in rows)
        {
            string[] cells = [name, m["ndcg@10"].ToString(), m["hr@10"].ToString(), m["ndcg@20"].ToString(), m["hr@20"].ToString(),
                secs.ToString("F0", CultureInfo.InvariantCulture), rowPeak.ToString("F0", CultureInfo.InvariantCulture), notes];
            table.AddRow(cells.Select(Markup.Escape).ToArray());
        }

        AnsiConsole.Write(table);
        AnsiConsole.MarkupLineInterpolated($"peak MB: working set while the row ran (after releasing pooled buffers); process peak {peakMb:F0} MB; intervals are bootstrap 95% over test users");
        return 0;
    }

    private static (string, RankingMetrics, double, string, double) WithPeak((string Name, RankingMetrics Metrics, double Seconds, string Notes) row, PeakMemorySampler memory) =>
        (row.Name, row.Metrics, row.Seconds, row.Notes, memory.PeakMegabytes);

    private static (string, RankingMetrics, double, string) TrainSasRec(string label, LeaveOneOutSplit split, SasRecOptions options, bool json,
        RankingEvaluatorOptions eval, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        int epochs = 0, bestEpoch = 0;
        double best = double.NegativeInfinity;
        SasRecScorer model = SasRecTraining.Fit(split, options, r =>
        {
            epochs = r.Epoch;
            if (r.ValidationNdcg10 > best)
            {
                best = r.ValidationNdcg10;
                bestEpoch = r.Epoch;
            }

            if (!json)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {label} epoch {r.Epoch,3}: loss {r.Loss:F4}, validation NDCG@10 {r.ValidationNdcg10:F4}, {r.Seconds:F1} s"));
            }
        }, ct);
        double seconds = clock.Elapsed.TotalSeconds;
        return ($"{label} ({(options.Loss == SasRecLoss.CrossEntropy ? "CE" : "BCE")}, d={options.Hidden}, len={options.MaxLength}, dropout={options.Dropout})", RankingEvaluator.Evaluate(model, split.Test, eval), seconds,
            $"{epochs} epochs, best {bestEpoch}");
    }
}
