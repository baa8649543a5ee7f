using System.Text;

namespace CalRec.Text.Tokenization;

/// <summary>Settings for <see cref="ByteLevelBpeTokenizer.Train"/>.</summary>
public sealed class BpeTrainerOptions
{
    /// <summary>Target number of ids: special tokens + 256 byte tokens + merges.</summary>
    public int VocabularySize { get; set; } = 8192;

    /// <summary>A pair seen fewer times than this is never merged (training stops early).</summary>
    public int MinFrequency { get; set; } = 2;

    /// <summary>Special tokens, given the first ids in order.</summary>
    public IList<string> SpecialTokens { get; set; } = [Tokenization.SpecialTokens.EndOfText];

    /// <summary>Pre-tokenization pattern.</summary>
    public string PreTokenizerPattern { get; set; } = PatternPreTokenizer.Gpt2Pattern;

    /// <summary>Called after each merge with (merges done, merges wanted), for progress display.</summary>
    public Action<int, int>? Progress { get; set; }
}

public sealed partial class ByteLevelBpeTokenizer
{
    /// <summary>
    /// Learns a byte-level BPE vocabulary from <paramref name="corpus"/>: words are counted after pre-tokenization,
    /// then the most frequent adjacent pair is merged repeatedly (ties broken by the smaller ids, so training is
    /// deterministic) until the vocabulary is full or no pair reaches the minimum frequency.
    /// </summary>
    public static ByteLevelBpeTokenizer Train(IEnumerable<string> corpus, BpeTrainerOptions? options = null)
    {
        options ??= new BpeTrainerOptions();
        var specials = options.SpecialTokens.Distinct(StringComparer.Ordinal).ToList();
        int baseSize = specials.Count + 256;
        if (options.VocabularySize < baseSize)
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"Vocabulary size {options.VocabularySize} is smaller than the {specials.Count} special tokens plus 256 byte tokens.");
        }

        var pre = new PatternPreTokenizer(options.PreTokenizerPattern);
        var wordCounts = new Dictionary<string, long>(StringComparer.Ordinal);
        var lookup = wordCounts.GetAlternateLookup<ReadOnlySpan<char>>();
        foreach (string line in corpus)
        {
            ReadOnlySpan<char> text = line;
            foreach (var m in pre.EnumerateMatches(text))
            {
                ReadOnlySpan<char> w = text.Slice(m.Index, m.Length);
                lookup[w] = lookup.TryGetValue(w, out long c) ? c + 1 : 1;
            }
        }

        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        var tokens = new List<string>();
        var added = new List<AddedToken>();
        foreach (string s in specials)
        {
            added.Add(new AddedToken(s, tokens.Count));
            vocab[s] = tokens.Count;
            tokens.Add(s);
        }

        for (int b = 0; b < 256; b++)
        {
            string s = ByteLevel.ByteToChar[b].ToString();
            vocab[s] = tokens.Count;
            tokens.Add(s);
        }

        // Words as symbol-id lists with their counts.
        var words = new List<int[]>(wordCounts.Count);
        var freqs = new List<long>(wordCounts.Count);
        foreach ((string w, long c) in wordCounts.OrderBy(static kv => kv.Key, StringComparer.Ordinal))
        {
            byte[] bytes = Encoding.UTF8.GetBytes(w);
            int[] sym = new int[bytes.Length];
            for (int i = 0; i < bytes.Length; i++)
            {
                sym[i] = specials.Count + bytes[i];
            }

            words.Add(sym);
            freqs.Add(c);
        }

        var pairCounts = new Dictionary<long, long>();
        var where = new Dictionary<long, HashSet<int>>();
        for (int wi = 0; wi < words.Count; wi++)
        {
            int[] sym = words[wi];
            for (int i = 0; i < sym.Length - 1; i++)
            {
                long key = Key(sym[i], sym[i + 1]);
                pairCounts[key] = pairCounts.GetValueOrDefault(key) + freqs[wi];
                (where.TryGetValue(key, out HashSet<int>? set) ? set : where[key] = []).Add(wi);
            }
        }

        var heap = new PriorityQueue<long, (long NegCount, long Key)>();
        foreach ((long key, long c) in pairCounts)
        {
            heap.Enqueue(key, (-c, key));
        }

        var merges = new List<(string, string)>();
        int wanted = options.VocabularySize - baseSize;
        while (merges.Count < wanted && heap.TryDequeue(out long best, out var prio))
        {
            long count = pairCounts.GetValueOrDefault(best);
            if (count != -prio.NegCount)
            {
                continue; // stale entry; the current count was pushed when it changed
            }

            if (count < options.MinFrequency)
            {
                break;
            }

            int left = (int)(best >> 32), right = (int)(uint)best;
            string mergedText = tokens[left] + tokens[right];
            if (vocab.ContainsKey(mergedText))
            {
                pairCounts.Remove(best);
                continue;
            }

            int merged = tokens.Count;
            tokens.Add(mergedText);
            vocab[mergedText] = merged;
            merges.Add((tokens[left], tokens[right]));
            var touched = new HashSet<long>();
            foreach (int wi in where[best].Order().ToArray())
            {
                words[wi] = MergeWord(words[wi], left, right, merged, freqs[wi], wi, pairCounts, where, touched);
            }

            pairCounts.Remove(best);
            where.Remove(best);
            foreach (long key in touched)
            {
                if (pairCounts.TryGetValue(key, out long c) && c > 0)
                {
                    heap.Enqueue(key, (-c, key));
                }
            }

            options.Progress?.Invoke(merges.Count, wanted);
        }

        return new ByteLevelBpeTokenizer(vocab, merges, added, pre, ignoreMerges: false, normalizer: null);
    }

    private static int[] MergeWord(int[] sym, int left, int right, int merged, long freq, int wi,
        Dictionary<long, long> pairCounts, Dictionary<long, HashSet<int>> where, HashSet<long> touched)
    {
        // Remove this word's old pairs, merge, add the new pairs back: simple and exact.
        for (int i = 0; i < sym.Length - 1; i++)
        {
            long key = Key(sym[i], sym[i + 1]);
            pairCounts[key] -= freq;
            touched.Add(key);
        }

        var result = new List<int>(sym.Length);
        for (int i = 0; i < sym.Length; i++)
        {
            if (i < sym.Length - 1 && sym[i] == left && sym[i + 1] == right)
            {
                result.Add(merged);
                i++;
            }
            else
            {
                result.Add(sym[i]);
            }
        }

        int[] next = [.. result];
        for (int i = 0; i < next.Length - 1; i++)
        {
            long key = Key(next[i], next[i + 1]);
            pairCounts[key] = pairCounts.GetValueOrDefault(key) + freq;
            (where.TryGetValue(key, out HashSet<int>? set) ? set : where[key] = []).Add(wi);
            touched.Add(key);
        }

        return next;
    }
}
