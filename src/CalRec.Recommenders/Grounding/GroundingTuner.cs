using System.Globalization;
using CalRec.Data.Splits;
using CalRec.Models.Decoder;
using CalRec.Recommenders.CalRec;
using CalRec.Recommenders.Evaluation;

namespace CalRec.Recommenders.Grounding;

/// <summary>
/// Chooses γ (embedding path) and the fusion weights of the dense, BM25, embedding and constrained-generation lists by
/// NDCG@10 on a seeded sample of validation users (never test targets). Generation runs once per user; the grids are
/// then evaluated on the cached lists, exactly as <see cref="GroundedScorer"/> would rank them. The best single list is
/// chosen on all those users; the best mixture of lists is chosen on half of them and kept only when, on the other half,
/// its paired gain over that single list is above zero at 95% confidence. So the returned fusion is never worse than any
/// single list on the tuning users, and a mixture is kept only on evidence that took no part in choosing it.
/// </summary>
public static class GroundingTuner
{
    /// <summary>
    /// The number of validation users tuning samples unless told otherwise: half of them choose a mixture and the other
    /// half must confirm it, against leads of a few thousandths of NDCG@10 (docs/results.md, the grounding section).
    /// Generating for 1,000 users took 2 to 4 minutes on 2 cores with the default backbone (office and beauty).
    /// </summary>
    public const int DefaultValidationUsers = 1000;

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

        // Fusion weights: every combination of the grid over the four lists, each scored per user, then chosen with a
        // held-out half of the users as judge (ChooseFusion).
        List<List<int>> embedding = embeddingLists[tuned.Gamma];
        var candidates = new List<(double[] Weights, double[] PerUser)>();
        int combinations = (int)Math.Pow(WeightGrid.Length, FusedPaths.Length);
        for (int combination = 1; combination < combinations; combination++)
        {
            var weights = new double[FusedPaths.Length];
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

            candidates.Add((weights, perUser));
        }

        (double[] chosen, double best) = ChooseFusion(candidates, log);
        tuned.FusionWeights = FusedPaths.Select((p, j) => (p, chosen[j])).ToDictionary(x => x.p, x => x.Item2);
        log(string.Create(CultureInfo.InvariantCulture,
            $"validation NDCG@10: embedding {bestGammaNdcg:F4} at gamma {tuned.Gamma} ({tuned.Signal.ToString().ToLowerInvariant()} signal); fusion {best:F4} with weights {Describe(chosen)}"));
        return tuned;
    }

    /// <summary>
    /// The fusion weights among <paramref name="candidates"/> (weights over <see cref="FusedPaths"/>, each with its
    /// NDCG@10 per tuning user) and their mean NDCG@10 on all users. The best single list (one non-zero weight) is chosen
    /// on all users; the best mixture on the users at even positions, and it is kept only if it is ahead there and, on the
    /// users at odd positions, its paired gain over the single list has a 95% lower bound above zero.
    /// </summary>
    internal static (double[] Weights, double Mean) ChooseFusion(IReadOnlyList<(double[] Weights, double[] PerUser)> candidates, Action<string> log)
    {
        // Why a held-out half: picking the best of 243 mixtures and judging it on the same users rewarded luck; such a
        // mixture lost to the dense list on the full beauty test set.
        int n = candidates[0].PerUser.Length;
        int[] selection = Enumerable.Range(0, n).Where(i => i % 2 == 0).ToArray();
        int[] confirmation = Enumerable.Range(0, n).Where(i => i % 2 == 1).ToArray();
        double SelectionMean(double[] perUser) => selection.Length == 0 ? 0 : selection.Average(i => perUser[i]);

        // The single list by its mean over all users, the mixture by its mean over the choosing half.
        (double[] Weights, double[] PerUser, double Mean)? single = null, mixture = null;
        foreach ((double[] weights, double[] perUser) in candidates)
        {
            bool isSingle = weights.Count(w => w > 0) == 1;
            double mean = isSingle ? perUser.Average() : SelectionMean(perUser);
            ref (double[] Weights, double[] PerUser, double Mean)? best = ref isSingle ? ref single : ref mixture;
            if (best is null || mean > best.Value.Mean + 1e-12)
            {
                best = (weights, perUser, mean);
            }
        }

        (double[] singleWeights, double[] singlePerUser, double singleMean) = single ?? throw new ArgumentException("The candidates hold no single list.", nameof(candidates));
        singleWeights = singleWeights.Select(w => w > 0 ? 1.0 : 0.0).ToArray(); // one list ranks the same at any weight
        if (mixture is not { } m || m.Mean <= SelectionMean(singlePerUser) + 1e-12)
        {
            return (singleWeights, singleMean);
        }

        string comparison = string.Create(CultureInfo.InvariantCulture,
            $"the best mixture on {selection.Length} of the users ({Describe(m.Weights)}: {m.Mean:F4}) is ahead of the best single list ({Describe(singleWeights)}: {SelectionMean(singlePerUser):F4})");
        if (confirmation.Length < 2)
        {
            log($"{comparison}, but too few users are left to confirm it: the single list is kept");
            return (singleWeights, singleMean);
        }

        (double gain, double lower) = PairedGain(confirmation.Select(i => m.PerUser[i]).ToArray(), confirmation.Select(i => singlePerUser[i]).ToArray());
        string heldOut = string.Create(CultureInfo.InvariantCulture, $"{comparison}; on the other {confirmation.Length} users it gains {gain:F4} (95% lower bound {lower:F4})");
        if (lower > 0)
        {
            log($"{heldOut}, beyond their noise: the mixture is kept");
            return (m.Weights, m.PerUser.Average());
        }

        log($"{heldOut}, within their noise: the single list is kept");
        return (singleWeights, singleMean);
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
