using CalRec.Data.Splits;
using CalRec.Tensors.Threading;

namespace CalRec.Recommenders.Evaluation;

/// <summary>Settings of <see cref="RecommendationEvaluator"/>.</summary>
public sealed record RecommendationEvaluatorOptions
{
    /// <summary>Cut-offs.</summary>
    public IReadOnlyList<int> Ks { get; init; } = [1, 5, 10, 20];

    /// <summary>Remove the user's history items (other than the target) from the ranking.</summary>
    public bool ExcludeSeen { get; init; } = true;

    /// <summary>Users scored per call to the scorer.</summary>
    public int BatchSize { get; init; } = 256;

    /// <summary>Bootstrap resamples for confidence intervals (0: none).</summary>
    public int BootstrapSamples { get; init; } = 1000;

    /// <summary>Seed of the bootstrap and of negative sampling.</summary>
    public ulong Seed { get; init; } = 7;

    /// <summary>
    /// 0 (default): full ranking over the whole catalogue. N &gt; 0: the sampled protocol, ranking the target among N
    /// negatives drawn uniformly from the items the user has not interacted with. Sampled metrics overstate quality and
    /// are not comparable with full-ranking numbers; results carry the protocol in <see cref="RecommendationMetrics.Protocol"/>.
    /// </summary>
    public int SampledNegatives { get; init; }

    /// <summary>
    /// Keep each user's top-max(K) list (<see cref="RecommendationMetrics.TopLists"/>), e.g. for a popularity view of what
    /// a model recommends; full ranking only.
    /// </summary>
    public bool KeepTopLists { get; init; }
}

/// <summary>
/// Full-ranking evaluation over the whole catalogue. The target's rank is the number of items scored higher, plus tied
/// items with a smaller index (ties broken by item index, as a stable sort would), after removing the user's seen items.
/// Scores are produced batch by batch, so the full users × items matrix is never held at once.
/// </summary>
public static class RecommendationEvaluator
{
    /// <summary>Evaluates <paramref name="scorer"/> on <paramref name="cases"/>.</summary>
    public static RecommendationMetrics Evaluate(IRecommenderScorer scorer, IReadOnlyList<EvaluationCase> cases, RecommendationEvaluatorOptions? options = null)
    {
        options ??= new RecommendationEvaluatorOptions();
        if (options.Ks.Count == 0 || options.Ks.Any(k => k <= 0))
        {
            throw new ArgumentException("Ks must be positive.");
        }

        if (options.SampledNegatives < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "SampledNegatives must be 0 (full ranking) or positive.");
        }

        int n = scorer.ItemCount, maxK = options.Ks.Max();
        int[] ranks = new int[cases.Count];
        bool[] covered = new bool[n];
        int[][]? lists = options.KeepTopLists && options.SampledNegatives == 0 ? new int[cases.Count][] : null;
        float[] scores = new float[Math.Min(options.BatchSize, Math.Max(1, cases.Count)) * n];
        for (int start = 0; start < cases.Count; start += options.BatchSize)
        {
            int count = Math.Min(options.BatchSize, cases.Count - start);
            var histories = new int[count][];
            for (int i = 0; i < count; i++)
            {
                EvaluationCase c = cases[start + i];
                if ((uint)c.Target >= (uint)n)
                {
                    throw new ArgumentOutOfRangeException(nameof(cases), $"Target item {c.Target} of user {c.User} is outside the catalogue of {n}.");
                }

                histories[i] = c.History;
            }

            scorer.Score(histories, scores.AsSpan(0, count * n));
            var work = new RankWork(cases, start, scores, n, maxK, options.ExcludeSeen, ranks, covered, lists, options.SampledNegatives, options.Seed);
            WorkerPool.Shared.Run(work, Math.Min(count, WorkerPool.Shared.ThreadCount * 4));
        }

        bool sampled = options.SampledNegatives > 0;
        double coverage = n == 0 || sampled ? double.NaN : covered.Count(c => c) / (double)n;
        string protocol = sampled
            ? $"sampled: target among {options.SampledNegatives} uniform negatives (NOT full ranking)"
            : options.ExcludeSeen ? "full ranking, seen items excluded" : "full ranking, seen items included";
        return new RecommendationMetrics(options.Ks, ranks, coverage, options.BootstrapSamples, options.Seed, protocol, lists);
    }

    /// <summary>Rank of <paramref name="target"/> among <paramref name="scores"/> with the evaluator's tie and exclusion rules.</summary>
    public static int RankOf(ReadOnlySpan<float> scores, int target, IReadOnlyCollection<int>? excluded)
    {
        float t = scores[target];
        int rank = 0;
        for (int j = 0; j < scores.Length; j++)
        {
            float s = scores[j];
            if ((s > t || (s == t && j < target) || float.IsNaN(t)) && j != target)
            {
                rank++;
            }
        }

        if (excluded is not null)
        {
            foreach (int j in excluded)
            {
                float s = scores[j];
                if (j != target && (s > t || (s == t && j < target) || float.IsNaN(t)))
                {
                    rank--;
                }
            }
        }

        return rank;
    }

    /// <summary>
    /// Rank of <paramref name="target"/> among <paramref name="negatives"/> sampled items, with the same tie rule
    /// (a tied negative with a smaller index ranks first).
    /// </summary>
    public static int SampledRankOf(ReadOnlySpan<float> scores, int target, ReadOnlySpan<int> negatives)
    {
        float t = scores[target];
        int rank = 0;
        foreach (int j in negatives)
        {
            float s = scores[j];
            if (s > t || (s == t && j < target) || float.IsNaN(t))
            {
                rank++;
            }
        }

        return rank;
    }

    /// <summary>
    /// Draws <paramref name="count"/> distinct items (fewer if the catalogue runs out) uniformly from the catalogue minus
    /// the history and the target, from a generator seeded by <paramref name="seed"/> and the case index (so the draw
    /// does not depend on batching or threads).
    /// </summary>
    internal static int[] SampleNegatives(int itemCount, EvaluationCase c, int count, ulong seed, int caseIndex)
    {
        var excluded = new HashSet<int>(c.History) { c.Target };
        int available = itemCount - excluded.Count(i => (uint)i < (uint)itemCount);
        count = Math.Min(count, Math.Max(0, available));
        var g = new Tensors.SeededRandom(seed ^ (0x9E3779B97F4A7C15UL * (ulong)(caseIndex + 1)));
        var chosen = new HashSet<int>();
        var result = new int[count];
        for (int k = 0; k < count;)
        {
            int j = g.NextInt(itemCount);
            if (!excluded.Contains(j) && chosen.Add(j))
            {
                result[k++] = j;
            }
        }

        return result;
    }

    private sealed class RankWork(IReadOnlyList<EvaluationCase> cases, int start, float[] scores, int n, int maxK, bool excludeSeen, int[] ranks, bool[] covered,
        int[][]? lists, int sampledNegatives, ulong seed)
        : IParallelWork
    {
        public void Execute(int part, int parts)
        {
            int count = Math.Min(cases.Count - start, scores.Length / n);
            int begin = (int)((long)count * part / parts), end = (int)((long)count * (part + 1) / parts);
            var heap = new PriorityQueue<int, (float, int)>(maxK + 1);
            Span<int> top = new int[maxK];
            for (int i = begin; i < end; i++)
            {
                EvaluationCase c = cases[start + i];
                ReadOnlySpan<float> row = scores.AsSpan(i * n, n);
                if (sampledNegatives > 0)
                {
                    ranks[start + i] = SampledRankOf(row, c.Target, SampleNegatives(n, c, sampledNegatives, seed, start + i));
                    continue;
                }

                HashSet<int>? seen = excludeSeen ? [.. c.History] : null;
                seen?.Remove(c.Target);
                ranks[start + i] = RankOf(row, c.Target, seen);

                int found = TopK.Select(row, maxK, seen, heap, top);
                if (lists is not null)
                {
                    lists[start + i] = top[..found].ToArray();
                }

                foreach (int j in top[..found])
                {
                    covered[j] = true;
                }
            }
        }
    }
}
