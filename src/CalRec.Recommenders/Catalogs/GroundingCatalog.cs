using System.Globalization;
using CalRec.Data.Splits;
using CalRec.Recommenders.CalRec;
using CalRec.Recommenders.Evaluation;
using CalRec.Recommenders.Grounding;
using CalRec.Recommenders.SasRec;
using CalRec.Tensors;

namespace CalRec.Recommenders.Catalogs;

/// <summary>
/// Grounding of a CALRec model's output in the real catalogue: dense retrieval, BM25 quasi-round-robin over generated
/// texts, BIGRec embedding grounding with popularity re-weighting, trie-constrained generation, and their fusion, plus
/// choosing γ and the fusion weights on validation users.
/// </summary>
public sealed class GroundingCatalog
{
    private static readonly float[] GammaGrid = [0f, 0.25f, 0.5f, 1f, 2f, 4f];
    private static readonly double[] WeightGrid = [0, 0.5, 1, 2];
    private readonly RecContext _context;

    internal GroundingCatalog(RecContext context) => _context = context;

    /// <summary>
    /// A scorer ranking along <paramref name="options"/>' path (default: dense retrieval). <paramref name="popularity"/>
    /// (per-item training counts) replaces the counts saved with the model for re-weighting; a
    /// <paramref name="collaborative"/> model (for example SASRec trained on the same data) makes its scores for the user
    /// the re-weighting signal instead (items matched by id). An <paramref name="embeddingBackbone"/> with the model's
    /// tokenizer (for example the base, stage-0 backbone) embeds the generated and item texts for embedding grounding in
    /// place of the finetuned one.
    /// </summary>
    public GroundedScorer Create(CalRecModel model, GroundingOptions? options = null, float[]? popularity = null, RecommenderModel? collaborative = null,
        Models.Decoder.DecoderLM? embeddingBackbone = null) =>
        new(model, options ?? new GroundingOptions(), popularity: popularity, collaborative: collaborative, embeddingBackbone: embeddingBackbone);

    /// <summary>Training-split interaction counts of <paramref name="split"/>'s items, mapped onto the model's catalogue by id.</summary>
    public static float[] Popularity(RecommenderModel model, LeaveOneOutSplit split)
    {
        float[] counts = new float[model.ItemCount];
        int[] map = split.Data.Items.Select(i => model.IndexOf(i.Id) ?? -1).ToArray();
        foreach (int[] s in split.Train)
        {
            foreach (int i in s)
            {
                if (map[i] >= 0)
                {
                    counts[map[i]]++;
                }
            }
        }

        return counts;
    }

    /// <summary>
    /// Chooses γ (embedding path) and the fusion weights of the dense, BM25, embedding and constrained-generation lists by NDCG@10 on a seeded
    /// sample of <paramref name="split"/>'s validation users (never its test targets); returns tuned options.
    /// </summary>
    public GroundingOptions Tune(CalRecModel model, LeaveOneOutSplit split, GroundingOptions? options = null, int validationUsers = 300, CancellationToken cancellation = default) =>
        Tune(model, split.Validation, options, validationUsers, null, cancellation: cancellation);

    /// <summary>
    /// Like the split overload, on given validation cases (item indices of the model's catalogue), with optional
    /// <paramref name="popularity"/> counts replacing the model's own, or a <paramref name="collaborative"/> model whose
    /// scores become the re-weighting signal (γ is then tuned for it, and the returned settings say so), and an optional
    /// <paramref name="embeddingBackbone"/> as in <see cref="Create"/>.
    /// </summary>
    public GroundingOptions Tune(CalRecModel model, IReadOnlyList<EvaluationCase> validation, GroundingOptions? options, int validationUsers, float[]? popularity,
        RecommenderModel? collaborative = null, Models.Decoder.DecoderLM? embeddingBackbone = null, CancellationToken cancellation = default)
    {
        GroundingOptions tuned = (options ?? new GroundingOptions()).Clone();
        tuned.Signal = collaborative is null ? ReweightingSignal.Popularity : ReweightingSignal.Collaborative;
        tuned.Gamma = 0f;
        var scorer = new GroundedScorer(model, tuned, popularity: popularity, collaborative: collaborative, embeddingBackbone: embeddingBackbone);
        var cases = Sample(validation, validationUsers, tuned.Seed ^ 0x5EEDUL);
        _context.Report("grounding", $"generating for {cases.Count} validation users");
        var parts = new List<(EvaluationCase Case, HashSet<int> Seen, List<int> Dense, List<int> Bm25, List<int> Constrained, float[] Distances, float[]? Signal)>();
        foreach (EvaluationCase c in cases)
        {
            cancellation.ThrowIfCancellationRequested();
            (List<int> dense, List<int> bm25, List<int> constrained, float[] distances) = scorer.Parts(c.History);
            parts.Add((c, c.History.ToHashSet(), dense, bm25, constrained, distances, scorer.Signal(c.History)));
        }

        int listLength = Math.Min(tuned.ListLength, model.ItemCount);
        var embeddingLists = new Dictionary<float, List<List<int>>>();
        double bestGammaNdcg = double.NegativeInfinity;
        if (scorer.HasSignal)
        {
            foreach (float gamma in GammaGrid)
            {
                var lists = parts.Select(p => TopK.Select(GroundedScorer.Reweighted(p.Distances, gamma, p.Signal), listLength, p.Seen)).ToList();
                embeddingLists[gamma] = lists;
                double ndcg = parts.Select((p, i) => Ndcg10(lists[i], p.Case.Target)).Average();
                if (ndcg > bestGammaNdcg)
                {
                    (bestGammaNdcg, tuned.Gamma) = (ndcg, gamma);
                }
            }
        }
        else
        {
            embeddingLists[0f] = parts.Select(p => TopK.Select(GroundedScorer.Reweighted(p.Distances, 0f, null), listLength, p.Seen)).ToList();
            bestGammaNdcg = parts.Select((p, i) => Ndcg10(embeddingLists[0f][i], p.Case.Target)).Average();
            tuned.Gamma = 0f;
            _context.Report("grounding", "no re-weighting signal (popularity counts or a collaborative model): gamma stays 0");
        }

        List<List<int>> embedding = embeddingLists[tuned.Gamma];
        double best = double.NegativeInfinity;
        GroundingPath[] paths = [GroundingPath.Dense, GroundingPath.Bm25, GroundingPath.Embedding, GroundingPath.Constrained];
        var weights = new double[paths.Length];
        var pathLists = new List<int>[paths.Length];
        int combinations = (int)Math.Pow(WeightGrid.Length, paths.Length);
        for (int combination = 1; combination < combinations; combination++)
        {
            for (int j = 0, rest = combination; j < paths.Length; j++, rest /= WeightGrid.Length)
            {
                weights[j] = WeightGrid[rest % WeightGrid.Length];
            }

            double ndcg = 0;
            for (int i = 0; i < parts.Count; i++)
            {
                (pathLists[0], pathLists[1], pathLists[2], pathLists[3]) = (parts[i].Dense, parts[i].Bm25, embedding[i], parts[i].Constrained);
                ndcg += Ndcg10(RankFusion.Reciprocal(pathLists.Select((l, j) => ((IReadOnlyList<int>)l, weights[j])).ToList(), 10).Select(x => x.Item).ToList(), parts[i].Case.Target);
            }

            ndcg /= parts.Count;
            if (ndcg > best + 1e-12)
            {
                best = ndcg;
                tuned.FusionWeights = paths.Select((p, j) => (p, weights[j])).ToDictionary(x => x.p, x => x.Item2);
            }
        }

        _context.Report("grounding", string.Create(CultureInfo.InvariantCulture,
            $"validation NDCG@10: embedding {bestGammaNdcg:F4} at gamma {tuned.Gamma} ({tuned.Signal.ToString().ToLowerInvariant()} signal); fusion {best:F4} with weights {string.Join(", ", tuned.FusionWeights.Select(w => $"{w.Key.ToString().ToLowerInvariant()} {w.Value}"))}"));
        return tuned;
    }

    /// <summary>A seeded sample of <paramref name="count"/> cases in their original order (all when count is 0 or more than there are).</summary>
    public static IReadOnlyList<EvaluationCase> Sample(IReadOnlyList<EvaluationCase> cases, int count, ulong seed)
    {
        if (count <= 0 || count >= cases.Count)
        {
            return cases;
        }

        int[] order = Enumerable.Range(0, cases.Count).ToArray();
        new Generator(seed).Shuffle<int>(order);
        return order.Take(count).Order().Select(i => cases[i]).ToList();
    }

    private static double Ndcg10(List<int> list, int target)
    {
        int r = list.IndexOf(target);
        return r is >= 0 and < 10 ? 1.0 / Math.Log2(r + 2) : 0.0;
    }
}
