using CalRec.Data.Splits;
using CalRec.Tensors.Threading;

namespace CalRec.Evaluation;

/// <summary>Settings of <see cref="RankingEvaluator"/>.</summary>
public sealed record RankingEvaluatorOptions
{
    /// <summary>Cut-offs.</summary>
    public IReadOnlyList<int> Ks { get; init; } = [1, 5, 10, 20];

    /// <summary>Remove the user's history items (other than the target) from the ranking.</summary>
    public bool ExcludeSeen { get; init; } = true;

    /// <summary>Users scored per call to the scorer.</summary>
    public int BatchSize { get; init; } = 256;

    /// <summary>Bootstrap resamples for confidence intervals (0: none).</summary>
    public int BootstrapSamples { get; init; } = 1000;

    /// <summary>Seed of the bootstrap.</summary>
    public ulong Seed { get; init; } = 7;
}

/// <summary>
/// Full-ranking evaluation over the whole catalogue. The target's rank is the number of items scored higher, plus tied
/// items with a smaller index (ties broken by item index, as a stable sort would), after removing the user's seen items.
/// Scores are produced batch by batch, so the full users × items matrix is never held at once.
/// </summary>
public static class RankingEvaluator
{
    /// <summary>Evaluates <paramref name="scorer"/> on <paramref name="cases"/>.</summary>
    public static RankingMetrics Evaluate(IRecommenderScorer scorer, IReadOnlyList<EvaluationCase> cases, RankingEvaluatorOptions? options = null)
    {
        options ??= new RankingEvaluatorOptions();
        if (options.Ks.Count == 0 || options.Ks.Any(k => k <= 0))
        {
            throw new ArgumentException("Ks must be positive.");
        }

        int n = scorer.ItemCount, maxK = options.Ks.Max();
        int[] ranks = new int[cases.Count];
        bool[] covered = new bool[n];
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
            WorkerPool.Shared.Run(new RankWork(cases, start, scores, n, maxK, options.ExcludeSeen, ranks, covered), Math.Min(count, WorkerPool.Shared.ThreadCount * 4));
        }

        double coverage = n == 0 ? 0 : covered.Count(c => c) / (double)n;
        return new RankingMetrics(options.Ks, ranks, coverage, options.BootstrapSamples, options.Seed);
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

    private sealed class RankWork(IReadOnlyList<EvaluationCase> cases, int start, float[] scores, int n, int maxK, bool excludeSeen, int[] ranks, bool[] covered)
        : IParallelWork
    {
        public void Execute(int part, int parts)
        {
            int count = Math.Min(cases.Count - start, scores.Length / n);
            int begin = (int)((long)count * part / parts), end = (int)((long)count * (part + 1) / parts);
            var heap = new PriorityQueue<int, (float, int)>(maxK + 1);
            for (int i = begin; i < end; i++)
            {
                EvaluationCase c = cases[start + i];
                ReadOnlySpan<float> row = scores.AsSpan(i * n, n);
                HashSet<int>? seen = excludeSeen ? [.. c.History] : null;
                seen?.Remove(c.Target);
                ranks[start + i] = RankOf(row, c.Target, seen);

                heap.Clear();
                for (int j = 0; j < n; j++)
                {
                    if (seen is not null && seen.Contains(j))
                    {
                        continue;
                    }

                    if (heap.Count == maxK)
                    {
                        heap.TryPeek(out _, out (float Score, int NegIndex) min);
                        if (row[j] < min.Score || (row[j] == min.Score && -j < min.NegIndex))
                        {
                            continue;
                        }
                    }

                    heap.Enqueue(j, (row[j], -j));
                    if (heap.Count > maxK)
                    {
                        heap.Dequeue();
                    }
                }

                while (heap.Count > 0)
                {
                    covered[heap.Dequeue()] = true;
                }
            }
        }
    }
}
