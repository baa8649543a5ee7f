using System.Diagnostics;
using System.Text;
using CalRec.Data.Synthetic;
using CalRec.Text.Tokenization;

namespace CalRec.Bench;

/// <summary>
/// Single-thread encoding speed of a trained byte-level BPE tokenizer on catalogue-like text; then, title by title on
/// amazon-beauty's titles (or the synthetic ones without ../shared), ours against Microsoft.ML.Tokenizers'
/// <c>BpeTokenizer</c> built from the same vocabulary and merges and against our tokenizer behind ML.NET's
/// <c>Tokenizer</c> API, warm, in interleaved rounds (medians), after checking that all three give the same ids.
/// </summary>
internal static class TokenizerBenchmark
{
    public static IEnumerable<BenchResult> Run(int megabytes = 4, int rounds = 3)
    {
        yield return Stream(megabytes);
        foreach (BenchResult r in Titles(rounds))
        {
            yield return r;
        }
    }

    private static IEnumerable<BenchResult> Titles(int rounds)
    {
        string items = "../shared/data/amazon-beauty/items.tsv";
        List<string> titles = File.Exists(items)
            ? CalRec.Data.Readers.NormalizedDataset.ReadItems(items).Select(i => i.Title).Where(t => t.Length > 0).ToList()
            : SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 7 }).Items.Select(i => i.Title).ToList();
        string source = File.Exists(items) ? "amazon-beauty titles" : "synthetic titles";
        ByteLevelBpeTokenizer ours = ByteLevelBpeTokenizer.Train(titles, new BpeTrainerOptions { VocabularySize = 4096 });
        var wrapped = new CalRec.MLNet.ByteLevelBpeMLTokenizer(ours);
        Microsoft.ML.Tokenizers.BpeTokenizer theirs = wrapped.ToBpeTokenizer();
        int differing = titles.Count(t => !theirs.EncodeToIds(t).SequenceEqual(ours.EncodeToIds(t)) || !wrapped.EncodeToIds(t).SequenceEqual(ours.EncodeToIds(t)));
        if (differing > 0)
        {
            throw new InvalidOperationException($"{differing} of {titles.Count} titles encode differently: no speed comparison.");
        }

        double megabytes = titles.Sum(t => (long)Encoding.UTF8.GetByteCount(t)) / 1e6;
        (string Name, Func<string, IReadOnlyList<int>> Encode)[] encoders =
        [
            ("tokenizer-titles-ours", ours.EncodeToIds),
            ("tokenizer-titles-ours-as-mlnet-tokenizer", t => wrapped.EncodeToIds(t)),
            ("tokenizer-titles-mlnet-bpetokenizer", t => theirs.EncodeToIds(t)),
        ];
        var speeds = encoders.Select(_ => new List<double>()).ToArray();
        for (int round = 0; round <= rounds; round++)
        {
            for (int e = 0; e < encoders.Length; e++)
            {
                var sw = Stopwatch.StartNew();
                foreach (string t in titles)
                {
                    encoders[e].Encode(t);
                }

                if (round > 0)
                {
                    speeds[e].Add(megabytes / sw.Elapsed.TotalSeconds);
                }
            }
        }

        for (int e = 0; e < encoders.Length; e++)
        {
            double median = speeds[e].Order().ElementAt(speeds[e].Count / 2);
            yield return new BenchResult
            {
                Name = encoders[e].Name,
                Config = $"vocab=4096,{titles.Count} {source} (ids identical),warm,rounds={rounds}",
                Threads = 1,
                MegabytesPerSecond = Math.Round(median, 2),
                Seconds = Math.Round(megabytes / median, 3),
            };
        }
    }

    private static BenchResult Stream(int megabytes)
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
