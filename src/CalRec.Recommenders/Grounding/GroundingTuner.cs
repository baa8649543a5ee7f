using System.Globalization;
using CalRec.Data.Splits;
using CalRec.Models.Decoder;
using CalRec.Recommenders.CalRec;
using CalRec.Recommenders.Evaluation;

namespace CalRec.Recommenders.Grounding;

/// <summary>
/// Chooses γ (embedding path) and the fusion weights of the dense, BM25, embedding and constrained-generation lists by
/// NDCG@10 on a seeded sample of validation users (never test targets). Generation runs once per user; the grids are
/// then evaluated on the cached lists, exactly as <see cref="GroundedScorer"/> would rank them. A mixture of lists is
/// chosen only when its paired gain over the best single list is above zero at 95% confidence on those users; weights
/// chosen on a few hundred users by noise did not carry to test users.
/// </summary>
public static class GroundingTuner
{
    private static readonly float[] GammaGrid = [0f, 0.25f, 0.5f, 1f, 2f, 4f];
    private static readonly double[] WeightGrid = [0, 0.5, 1, 2];
    private static readonly GroundingPath[] FusedPaths = [GroundingPath.Dense, GroundingPath.Bm25, GroundingPath.Embedding, GroundingPath.Constrained];

    /// <summary>
    /// Tuned copies of <paramref name="options"/> (default settings when null): γ and the fusion weights chosen by
    /// NDCG@10 on a seeded sample of <paramref name="validationUsers"/> of <paramref name="validation"/> (item indices of
    /// the model's catalogue). <paramref name="popularity"/>, <paramref name="collaborative"/> and
    /// <paramref name="embedder"/> are as in <see cref="GroundedScorer"/>'s constructor (γ is tuned for the
    /// signal they give, and the returned settings say which); <paramref name="log"/> receives progress messages.
    /// </summary>
    public static GroundingOptions Tune(CalRecModel model, IReadOnlyList<EvaluationCase> validation, GroundingOptions? options, int validationUsers, float[]? popularity = null,
        RecommenderModel? collaborative = null, GroundingEmbedder? embedder = null, Action<string>? log = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(validation);
        log ??= _ => { };
        GroundingOptions tuned = (options ?? new GroundingOptions()).Clone();
        tuned.Signal = collaborative is null ? ReweightingSignal.Popularity : ReweightingSignal.Collaborative;
        tuned.Gamma = 0f;
        var scorer = new GroundedScorer(model, tuned, popularity: popularity, collaborative: collaborative, embedder: embedder);
        IReadOnlyList<EvaluationCase> cases = CaseSampling.Sample(validation, validationUsers, tuned.Seed ^ 0x5EEDUL);
        log($"generating for {cases.Count} validation users");
        var users = new List<(EvaluationCase Case, GroundingQuery Query, float[] Distances, float[]? Signal)>();
        foreach (EvaluationCase c in cases)
        {
            cancellation.ThrowIfCancellationRequested();
            GroundingQuery q = scorer.Query(c.History);
            foreach (GroundingPath p in (GroundingPath[])[GroundingPath.Dense, GroundingPath.Bm25, GroundingPath.Constrained])
            {
                q.ListOf(scorer.PathOf(p));
            }

            users.Add((c, q, scorer.Embedding.RawDistances(q), scorer.Embedding.Signal(c.History)));
        }

        // γ: the embedding path's own NDCG@10 (0 without a re-weighting signal).
        var embeddingLists = new Dictionary<float, List<List<int>>>();
        double bestGammaNdcg = double.NegativeInfinity;
        foreach (float gamma in scorer.HasSignal ? GammaGrid : [0f])
        {
            var lists = users.Select(u => TopK.Select(EmbeddingPath.Reweighted(u.Distances, gamma, u.Signal), u.Query.ListLength, u.Query.Seen)).ToList();
            embeddingLists[gamma] = lists;
            double ndcg = users.Select((u, i) => Ndcg10(lists[i], u.Case.Target)).Average();
            if (ndcg > bestGammaNdcg)
            {
                (bestGammaNdcg, tuned.Gamma) = (ndcg, gamma);
            }
        }

        if (!scorer.HasSignal)
        {
            log("no re-weighting signal (popularity counts or a collaborative model): gamma stays 0");
        }

        // Fusion weights: every combination of the grid over the four lists, the first best kept; a mixture of lists
        // must beat the best single list by more than the sampling noise of these users, or the single list is kept.
        List<List<int>> embedding = embeddingLists[tuned.Gamma];
        (double Mean, double[] PerUser, double[] Weights)? bestMixture = null, bestSingle = null;
        var weights = new double[FusedPaths.Length];
        int combinations = (int)Math.Pow(WeightGrid.Length, FusedPaths.Length);
        for (int combination = 1; combination < combinations; combination++)
        {
            for (int j = 0, rest = combination; j < FusedPaths.Length; j++, rest /= WeightGrid.Length)
            {
                weights[j] = WeightGrid[rest % WeightGrid.Length];
            }

            var perUser = new double[users.Count];
            for (int i = 0; i < users.Count; i++)
            {
                IReadOnlyDictionary<GroundingPath, IReadOnlyList<int>> lists = users[i].Query.Lists;
                var weighted = FusedPaths.Select((p, j) => (p == GroundingPath.Embedding ? embedding[i] : lists[p], weights[j])).ToList();
                perUser[i] = Ndcg10(RankFusion.Reciprocal(weighted, 10).Select(x => x.Item).ToList(), users[i].Case.Target);
            }

            double ndcg = perUser.Average();
            ref (double Mean, double[] PerUser, double[] Weights)? slot = ref weights.Count(w => w > 0) == 1 ? ref bestSingle : ref bestMixture;
            if (slot is null || ndcg > slot.Value.Mean + 1e-12)
            {
                slot = (ndcg, perUser, (double[])weights.Clone());
            }
        }

        (double best, _, double[] chosen) = bestSingle!.Value;
        if (bestMixture is { } mixture && mixture.Mean > best + 1e-12)
        {
            (double gain, double lower) = PairedGain(mixture.PerUser, bestSingle.Value.PerUser);
            string comparison = string.Create(CultureInfo.InvariantCulture,
                $"the best mixture ({Describe(mixture.Weights)}: {mixture.Mean:F4}) is ahead of the best single list ({Describe(chosen)}: {best:F4}) by {gain:F4}");
            if (lower > 0)
            {
                log(string.Create(CultureInfo.InvariantCulture,
                    $"{comparison}, beyond the noise of {users.Count} users (95% lower bound {lower:F4}): the mixture is kept"));
                (best, chosen) = (mixture.Mean, mixture.Weights);
            }
            else
            {
                log(string.Create(CultureInfo.InvariantCulture,
                    $"{comparison}, within the noise of {users.Count} users (95% lower bound {lower:F4}): the single list is kept"));
            }
        }

        tuned.FusionWeights = FusedPaths.Select((p, j) => (p, chosen[j])).ToDictionary(x => x.p, x => x.Item2);
        log(string.Create(CultureInfo.InvariantCulture,
            $"validation NDCG@10: embedding {bestGammaNdcg:F4} at gamma {tuned.Gamma} ({tuned.Signal.ToString().ToLowerInvariant()} signal); fusion {best:F4} with weights {Describe(chosen)}"));
        return tuned;
    }

    /// <summary>
    /// Mean per-user gain of <paramref name="mixture"/> over <paramref name="single"/> (the same users) and its one-sided
    /// 95% lower bound, mean - 1.645 · sd / √n (normal approximation of the paired mean).
    /// </summary>
    internal static (double Gain, double Lower) PairedGain(IReadOnlyList<double> mixture, IReadOnlyList<double> single)
    {
        int n = mixture.Count;
        if (n != single.Count || n < 2)
        {
            throw new ArgumentException($"A paired gain needs the same users on both sides, at least two; got {n} and {single.Count}.");
        }

        double[] d = mixture.Select((m, i) => m - single[i]).ToArray();
        double mean = d.Average();
        double sd = Math.Sqrt(d.Sum(x => (x - mean) * (x - mean)) / (n - 1));
        return (mean, mean - (1.645 * sd / Math.Sqrt(n)));
    }

    private static string Describe(double[] weights) =>
        string.Join(", ", FusedPaths.Select((p, j) => string.Create(CultureInfo.InvariantCulture, $"{p.ToString().ToLowerInvariant()} {weights[j]}")));

    private static double Ndcg10(IReadOnlyList<int> list, int target)
    {
        for (int r = 0; r < Math.Min(10, list.Count); r++)
        {
            if (list[r] == target)
            {
                return 1.0 / Math.Log2(r + 2);
            }
        }

        return 0.0;
    }
}
