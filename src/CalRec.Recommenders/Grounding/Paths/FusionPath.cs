namespace CalRec.Recommenders.Grounding;

/// <summary>
/// Weighted reciprocal-rank fusion of the other paths' lists; items outside the fused list keep the dense order below
/// every fused item.
/// </summary>
internal sealed class FusionPath(IReadOnlyDictionary<GroundingPath, IGroundingPath> paths, IReadOnlyDictionary<GroundingPath, double> weights) : IGroundingPath
{
    public GroundingPath Kind => GroundingPath.Fusion;

    /// <summary>The paths with a non-zero weight, in the settings' order.</summary>
    public IEnumerable<IGroundingPath> Members => weights.Where(w => w.Value != 0 && paths.ContainsKey(w.Key)).Select(w => paths[w.Key]);

    public IReadOnlyList<int> List(GroundingQuery query) => Fused(query).Select(x => x.Item).ToList();

    public void Score(GroundingQuery query, Span<float> scores)
    {
        float[] dense = query.Dense;
        for (int i = 0; i < scores.Length; i++)
        {
            scores[i] = dense[i] - 10f;
        }

        foreach ((int item, double score) in Fused(query))
        {
            scores[item] = 10f + (float)score;
        }
    }

    private List<(int Item, double Score)> Fused(GroundingQuery query) =>
        RankFusion.Reciprocal(Members.Select(p => (query.ListOf(p), weights[p.Kind])).ToList(), query.ListLength);
}
