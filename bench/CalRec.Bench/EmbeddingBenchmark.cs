using System.Diagnostics;
using CalRec.Data.Synthetic;
using CalRec.Models.Configuration;
using CalRec.Models.Decoder;
using CalRec.Models.Embeddings;
using CalRec.Tensors.Threading;
using CalRec.Text.Tokenization;

namespace CalRec.Bench;

/// <summary>Item-text embedding throughput (mean pooling, batches of 32) for a model preset.</summary>
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
}
