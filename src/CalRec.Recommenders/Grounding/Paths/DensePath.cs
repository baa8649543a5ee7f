using CalRec.Recommenders.Evaluation;

namespace CalRec.Recommenders.Grounding;

/// <summary>Dense retrieval: the user tower against the precomputed item index (no generation).</summary>
internal sealed class DensePath : IGroundingPath
{
    public GroundingPath Kind => GroundingPath.Dense;

    public IReadOnlyList<int> List(GroundingQuery query) => TopK.Select(query.Dense, query.ListLength, query.Seen);

    public void Score(GroundingQuery query, Span<float> scores) => query.Dense.CopyTo(scores);
}
