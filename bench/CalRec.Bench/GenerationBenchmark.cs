using System.Diagnostics;
using CalRec.Models.Configuration;
using CalRec.Models.Decoder;
using CalRec.Models.Generation;
using CalRec.Tensors.Threading;

namespace CalRec.Bench;

/// <summary>Greedy generation speed of the small preset with and without the KV cache.</summary>
internal static class GenerationBenchmark
{
    public static IEnumerable<BenchResult> Run(string presetPath, int promptTokens = 64, int newTokens = 64)
    {
        DecoderConfig config = DecoderConfig.Load(presetPath);
        var model = new DecoderLM(config, seed: 1);
        int[] prompt = Enumerable.Range(0, promptTokens).Select(i => (i * 37) % config.VocabSize).ToArray();
        foreach (bool cache in (bool[])[true, false])
        {
            using var step = new DecoderStepModel(model, useKvCache: cache, maxTokens: promptTokens + newTokens + 1);
            var gen = new SequenceGenerator(step, ids => string.Empty);
            var options = new GenerationOptions { MaxNewTokens = newTokens };
            gen.Generate([prompt], options with { MaxNewTokens = 4 });
            var sw = Stopwatch.StartNew();
            gen.Generate([prompt], options);
            double s = sw.Elapsed.TotalSeconds;
            yield return new BenchResult
            {
                Name = cache ? "generate-kv-cache" : "generate-no-cache",
                Config = $"{Path.GetFileNameWithoutExtension(presetPath)},prompt={promptTokens},new={newTokens}",
                Threads = WorkerPool.Shared.ThreadCount,
                TokensPerSecond = Math.Round(newTokens / s, 1),
                Parameters = model.parameter_count(),
                Seconds = Math.Round(s, 3),
            };
        }
    }
}
