using System.Diagnostics;
using System.Text;
using CalRec.Data.Synthetic;
using CalRec.Text.Tokenization;

namespace CalRec.Bench;

/// <summary>Single-thread encoding speed of a trained byte-level BPE tokenizer on catalogue-like text.</summary>
internal static class TokenizerBenchmark
{
    public static BenchResult Run(int megabytes = 4)
    {
        SyntheticCatalog data = SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 7 });
        string[] lines = data.Items.Select(i => i.ToText()).ToArray();
        ByteLevelBpeTokenizer tok = ByteLevelBpeTokenizer.Train(lines, new BpeTrainerOptions { VocabularySize = 4096 });

        // Different seed for the measured text, mixed with numbers and punctuation, so the word cache is not everything.
        var text = new StringBuilder();
        var g = new CalRec.Tensors.SeededRandom(99);
        SyntheticCatalog other = SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 8 });
        while (text.Length < megabytes * 1_000_000)
        {
            SyntheticItem item = other.Items[g.NextInt(other.Items.Count)];
            text.Append(item.ToText()).Append(" | rated ").Append(g.NextInt(100000)).Append(" times, ").Append(g.NextDouble().ToString("F3", System.Globalization.CultureInfo.InvariantCulture)).Append('\n');
        }

        string input = text.ToString();
        var ids = new List<int>(input.Length / 2);
        tok.EncodeInto(input[..Math.Min(input.Length, 100_000)], ids);
        ids.Clear();
        var sw = Stopwatch.StartNew();
        tok.EncodeInto(input, ids);
        double s = sw.Elapsed.TotalSeconds;
        double mb = Encoding.UTF8.GetByteCount(input) / 1e6;
        return new BenchResult
        {
            Name = "tokenizer-encode",
            Config = $"vocab=4096,{mb:F1}MB",
            Threads = 1,
            MegabytesPerSecond = Math.Round(mb / s, 2),
            TokensPerSecond = Math.Round(ids.Count / s, 0),
            Seconds = Math.Round(s, 3),
        };
    }
}
