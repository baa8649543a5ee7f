using System.Diagnostics;
using CalRec.Data;
using CalRec.Data.Synthetic;
using CalRec.Models.Configuration;
using CalRec.Models.Decoder;
using CalRec.Models.Embeddings;
using CalRec.Tensors.Threading;
using CalRec.Text.Tokenization;

namespace CalRec.Bench;

/// <summary>
/// Item-text embedding throughput (mean pooling, batches of 32): a decoder preset of ours, or the pretrained MiniLM on
/// ONNX Runtime and on our engine side by side.
/// </summary>
internal static class EmbeddingBenchmark
{
    public static BenchResult Run(string presetPath)
    {
        SyntheticCatalog data = SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 3 });
        string[] texts = data.Items.Select(i => i.ToText()).ToArray();
        ByteLevelBpeTokenizer tok = ByteLevelBpeTokenizer.Train(texts, new BpeTrainerOptions { VocabularySize = 1024, SpecialTokens = [.. SpecialTokens.All] });
        DecoderConfig config = DecoderConfig.Load(presetPath) with { VocabSize = tok.VocabularySize };
        var embedder = new LanguageModelEmbedder(new DecoderLM(config, seed: 1), tok, Pooling.Mean, batchSize: 32);
        embedder.Encode(texts.Take(32).ToList());
        var all = Enumerable.Repeat(texts, 5).SelectMany(t => t).ToList();
        var sw = Stopwatch.StartNew();
        embedder.Encode(all);
        double s = sw.Elapsed.TotalSeconds;
        return new BenchResult
        {
            Name = "embed-mean-pool",
            Config = $"{Path.GetFileNameWithoutExtension(presetPath)},texts={all.Count},avg_tokens={all.Average(t => tok.CountTokens(t)):F1}",
            Threads = WorkerPool.Shared.ThreadCount,
            TextsPerSecond = Math.Round(all.Count / s, 1),
            Seconds = Math.Round(s, 3),
        };
    }

    /// <summary>
    /// all-MiniLM-L6-v2 sentence embeddings of the same titles (amazon-office's, else the synthetic catalogue's) on ONNX
    /// Runtime and on our engine (weights read from the same ONNX file), interleaved <paramref name="rounds"/> times, the
    /// median texts/s of each; the config records the largest difference between the two engines' embeddings.
    /// </summary>
    public static IEnumerable<BenchResult> RunMiniLm(string? dataPath, int rounds)
    {
        (InteractionDataset data, string name) = BenchData.Load(dataPath, "amazon-office", 3);
        IReadOnlyList<string> texts = data.Items.Select(i => i.Title).ToList();
        using var onnx = new MiniLmTextEncoder(WorkerPool.Shared.ThreadCount);
        BertTextEncoder ours = BertTextEncoder.MiniLm();
        onnx.Encode(texts.Take(32).ToList());
        ours.Encode(texts.Take(32).ToList());
        var times = new Dictionary<string, List<double>> { ["onnxruntime"] = [], ["calrec"] = [] };
        float[] a = [], b = [];
        for (int r = 0; r < rounds; r++)
        {
            var sw = Stopwatch.StartNew();
            a = onnx.Encode(texts);
            times["onnxruntime"].Add(sw.Elapsed.TotalSeconds);
            sw.Restart();
            b = ours.Encode(texts);
            times["calrec"].Add(sw.Elapsed.TotalSeconds);
        }

        double diff = a.Zip(b, (x, y) => Math.Abs((double)x - y)).Max();
        foreach ((string engine, List<double> seconds) in times)
        {
            double median = seconds.Order().ElementAt(seconds.Count / 2);
            yield return new BenchResult
            {
                Name = $"embed-minilm-{engine}",
                Config = $"{name}: {texts.Count:N0} texts, median of {rounds} interleaved rounds, max |ours - onnxruntime| = {diff:E1}",
                Threads = WorkerPool.Shared.ThreadCount,
                TextsPerSecond = Math.Round(texts.Count / median, 1),
                Seconds = Math.Round(median, 3),
            };
        }
    }
}
