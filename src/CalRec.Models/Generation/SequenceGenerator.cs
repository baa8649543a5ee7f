using CalRec.Tensors;

namespace CalRec.Models.Generation;

/// <summary>
/// Autoregressive decoding over any <see cref="IStepModel"/>: greedy, beam search and seeded sampling with stop tokens,
/// stop sequences and batched prompts, plus trie-constrained beam search that only produces strings from a given set.
/// </summary>
/// <param name="model">The model to decode from.</param>
/// <param name="decode">Turns generated ids into text (for stop sequences and the returned text).</param>
public sealed class SequenceGenerator(IStepModel model, Func<IEnumerable<int>, string> decode)
{
    /// <summary>Generates continuations of each prompt; result i holds the sequences for prompt i, best first.</summary>
    public IReadOnlyList<IReadOnlyList<GeneratedSequence>> Generate(IReadOnlyList<int[]> prompts, GenerationOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(options.MaxNewTokens);
        return options.Strategy switch
        {
            DecodingStrategy.BeamSearch => prompts.Select(p => (IReadOnlyList<GeneratedSequence>)Beam(p, options, null)).ToList(),
            _ => Rows(prompts, options),
        };
    }

    /// <summary>
    /// Beam search restricted to the token sequences of <paramref name="allowed"/> (e.g. every item title): each result is
    /// one of the allowed entries with its total log-probability, best first, at most <paramref name="count"/> of them.
    /// </summary>
    public IReadOnlyList<(int Index, double LogProb)> GenerateConstrained(int[] prompt, TokenTrie allowed, int numBeams, int count)
    {
        var options = new GenerationOptions { Strategy = DecodingStrategy.BeamSearch, NumBeams = numBeams, NumReturnSequences = count, LengthPenalty = 0f, MaxNewTokens = allowed.MaxLength };
        var results = new List<(int, double)>();
        foreach (GeneratedSequence s in Beam(prompt, options, allowed))
        {
            results.Add((allowed.Find(s.TokenIds)!.Value, s.LogProb));
        }

        return results;
    }

    private List<IReadOnlyList<GeneratedSequence>> Rows(IReadOnlyList<int[]> prompts, GenerationOptions o)
    {
        int copies = o.Strategy == DecodingStrategy.Sampling ? Math.Max(1, o.NumReturnSequences) : 1;
        var rowPrompts = prompts.SelectMany(p => Enumerable.Repeat(p, copies)).ToList();
        int rows = rowPrompts.Count, v = model.VocabularySize;
        var generated = Enumerable.Range(0, rows).Select(_ => new List<int>()).ToList();
        double[] logProb = new double[rows];
        bool[] done = new bool[rows];
        var rng = new Tensors.SeededRandom(o.Seed);
        float[] logits = o.MaxNewTokens > 0 ? model.Start(rowPrompts) : [];
        float[] probs = new float[v];
        for (int step = 0; step < o.MaxNewTokens && !done.All(d => d); step++)
        {
            int[] next = new int[rows];
            for (int r = 0; r < rows; r++)
            {
                if (done[r])
                {
                    next[r] = generated[r].Count > 0 ? generated[r][^1] : 0;
                    continue;
                }

                ReadOnlySpan<float> row = logits.AsSpan(r * v, v);
                int token = o.Strategy == DecodingStrategy.Sampling ? Sample(row, o, rng, probs) : System.Numerics.Tensors.TensorPrimitives.IndexOfMax(row);
                next[r] = token;
                if (o.StopTokenIds.Contains(token))
                {
                    done[r] = true;
                    continue;
                }

                logProb[r] += LogSoftmaxAt(row, token);
                generated[r].Add(token);
                done[r] = HitsStopSequence(generated[r], o) || step + 1 == o.MaxNewTokens;
            }

            if (!done.All(d => d))
            {
                logits = model.Step(next);
            }
        }

        var result = new List<IReadOnlyList<GeneratedSequence>>();
        for (int p = 0; p < prompts.Count; p++)
        {
            result.Add(Enumerable.Range(p * copies, copies).Select(r => Finish(generated[r], logProb[r], o)).ToList());
        }

        return result;
    }

    private List<GeneratedSequence> Beam(int[] prompt, GenerationOptions o, TokenTrie? trie)
    {
        int k = Math.Max(1, o.NumBeams), v = model.VocabularySize;
        var finished = new List<(List<int> Tokens, double LogProb, double Score)>();
        double Score(double lp, int len) => lp / Math.Pow(Math.Max(1, len), o.LengthPenalty);
        var beams = new List<(List<int> Tokens, double LogProb, int Node)> { ([], 0.0, 0) };
        float[] logits = o.MaxNewTokens > 0 ? model.Start([prompt]) : [];
        for (int step = 0; step < o.MaxNewTokens && beams.Count > 0; step++)
        {
            var candidates = new List<(int Beam, int Token, double LogProb)>();
            for (int b = 0; b < beams.Count; b++)
            {
                ReadOnlySpan<float> row = logits.AsSpan(b * v, v);
                float lse = Functional.LogSumExp(row);
                IEnumerable<int> choices = trie is null ? TopIndices(row, 2 * k) : trie.Children(beams[b].Node);
                foreach (int token in choices)
                {
                    candidates.Add((b, token, beams[b].LogProb + row[token] - lse));
                }
            }

            var nextBeams = new List<(List<int> Tokens, double LogProb, int Node)>();
            var sources = new List<int>();
            var tokens = new List<int>();
            foreach ((int b, int token, double lp) in candidates.OrderByDescending(c => c.LogProb).ThenBy(c => c.Beam).ThenBy(c => c.Token))
            {
                if (nextBeams.Count == k)
                {
                    break;
                }

                List<int> seq = [.. beams[b].Tokens];
                if (trie is null && o.StopTokenIds.Contains(token))
                {
                    finished.Add((seq, lp, Score(lp, seq.Count)));
                    continue;
                }

                seq.Add(token);
                int node = trie?.Next(beams[b].Node, token) ?? 0;
                if (trie is not null && trie.IsTerminal(node))
                {
                    finished.Add((seq, lp, Score(lp, seq.Count)));
                    if (!trie.HasChildren(node))
                    {
                        continue;
                    }
                }
                else if (trie is null && HitsStopSequence(seq, o))
                {
                    finished.Add((seq, lp, Score(lp, seq.Count)));
                    continue;
                }

                nextBeams.Add((seq, lp, node));
                sources.Add(b);
                tokens.Add(token);
            }

            beams = nextBeams;
            int wanted = Math.Max(k, o.NumReturnSequences);
            if (beams.Count == 0 || (trie is null && finished.Count >= wanted
                && finished.OrderByDescending(f => f.Score).Take(wanted).Min(f => f.Score) >= beams.Max(bm => Score(bm.LogProb, bm.Tokens.Count))))
            {
                break;
            }

            if (step + 1 < o.MaxNewTokens)
            {
                model.Reorder(sources);
                logits = model.Step([.. tokens]);
            }
        }

        if (trie is null)
        {
            finished.AddRange(beams.Select(b => (b.Tokens, b.LogProb, Score(b.LogProb, b.Tokens.Count))));
        }

        return finished.OrderByDescending(f => f.Score).ThenBy(f => string.Join(",", f.Tokens), StringComparer.Ordinal)
            .DistinctBy(f => string.Join(",", f.Tokens))
            .Take(Math.Max(1, o.NumReturnSequences))
            .Select(f => Finish(f.Tokens, f.LogProb, o))
            .ToList();
    }

    private GeneratedSequence Finish(List<int> tokens, double logProb, GenerationOptions o)
    {
        string text = decode(tokens);
        foreach (string stop in o.StopSequences)
        {
            int at = text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0)
            {
                text = text[..at];
            }
        }

        return new GeneratedSequence([.. tokens], text, logProb);
    }

    private bool HitsStopSequence(List<int> tokens, GenerationOptions o)
    {
        if (o.StopSequences.Count == 0)
        {
            return false;
        }

        string text = decode(tokens);
        return o.StopSequences.Any(s => text.Contains(s, StringComparison.Ordinal));
    }

    private static double LogSoftmaxAt(ReadOnlySpan<float> row, int token) => row[token] - Functional.LogSumExp(row);

    private static IEnumerable<int> TopIndices(ReadOnlySpan<float> row, int count)
    {
        var heap = new PriorityQueue<int, (float, int)>();
        for (int i = 0; i < row.Length; i++)
        {
            heap.Enqueue(i, (row[i], -i));
            if (heap.Count > count)
            {
                heap.Dequeue();
            }
        }

        var result = new List<int>(heap.Count);
        while (heap.Count > 0)
        {
            result.Add(heap.Dequeue());
        }

        result.Reverse();
        return result;
    }

    private static int Sample(ReadOnlySpan<float> logits, GenerationOptions o, Tensors.SeededRandom rng, float[] probs)
    {
        if (o.Temperature <= 0f)
        {
            return System.Numerics.Tensors.TensorPrimitives.IndexOfMax(logits);
        }

        Span<float> p = probs.AsSpan(0, logits.Length);
        System.Numerics.Tensors.TensorPrimitives.Multiply(logits, 1f / o.Temperature, p);
        System.Numerics.Tensors.TensorPrimitives.SoftMax(p, p);
        int[] order = Enumerable.Range(0, p.Length).ToArray();
        float[] keys = p.ToArray().Select(x => -x).ToArray();
        Array.Sort(keys, order);
        int keep = o.TopK > 0 ? Math.Min(o.TopK, order.Length) : order.Length;
        double cumulative = 0;
        int nucleus = 0;
        while (nucleus < keep)
        {
            cumulative += p[order[nucleus]];
            nucleus++;
            if (cumulative >= o.TopP)
            {
                break;
            }
        }

        double total = 0;
        for (int i = 0; i < nucleus; i++)
        {
            total += p[order[i]];
        }

        double u = rng.NextDouble() * total;
        for (int i = 0; i < nucleus; i++)
        {
            u -= p[order[i]];
            if (u <= 0)
            {
                return order[i];
            }
        }

        return order[nucleus - 1];
    }
}
