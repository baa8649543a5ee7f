using System.Globalization;
using CalRec.Data.Splits;
using CalRec.Models.Decoder;
using CalRec.Recommenders.CalRec;
using CalRec.Recommenders.Evaluation;

namespace CalRec.Recommenders.Grounding;

/// <summary>
/// Chooses γ (embedding path) and the fusion weights of the dense, BM25, embedding and constrained-generation lists by
/// NDCG@10 on a seeded sample of validation users (never test targets). Generation runs once per user; the grids are
/// then evaluated on the cached lists, exactly as <see cref="GroundedScorer"/> would rank them.
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

        // Fusion weights: every combination of the grid over the four lists, the first best kept.
        List<List<int>> embedding = embeddingLists[tuned.Gamma];
        double best = double.NegativeInfinity;
        var weights = new double[FusedPaths.Length];
        int combinations = (int)Math.Pow(WeightGrid.Length, FusedPaths.Length);
        for (int combination = 1; combination < combinations; combination++)
        {
            for (int j = 0, rest = combination; j < FusedPaths.Length; j++, rest /= WeightGrid.Length)
            {
                weights[j] = WeightGrid[rest % WeightGrid.Length];
            }

            double ndcg = 0;
            for (int i = 0; i < users.Count; i++)
            {
                IReadOnlyDictionary<GroundingPath, IReadOnlyList<int>> lists = users[i].Query.Lists;
                var weighted = FusedPaths.Select((p, j) => (p == GroundingPath.Embedding ? embedding[i] : lists[p], weights[j])).ToList();
                ndcg += Ndcg10(RankFusion.Reciprocal(weighted, 10).Select(x => x.Item).ToList(), users[i].Case.Target);
            }

            ndcg /= users.Count;
            if (ndcg > best + 1e-12)
            {
                best = ndcg;
                tuned.FusionWeights = FusedPaths.Select((p, j) => (p, weights[j])).ToDictionary(x => x.p, x => x.Item2);
            }
        }

        log(string.Create(CultureInfo.InvariantCulture,
            $"validation NDCG@10: embedding {bestGammaNdcg:F4} at gamma {tuned.Gamma} ({tuned.Signal.ToString().ToLowerInvariant()} signal); fusion {best:F4} with weights {string.Join(", ", tuned.FusionWeights.Select(w => $"{w.Key.ToString().ToLowerInvariant()} {w.Value}"))}"));
        return tuned;
    }

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
