
namespace CalRec.Recommenders;

/// <summary>Scores every catalogue item for a batch of user histories (higher = recommended earlier).</summary>
public interface IRecommenderScorer
{
    /// <summary>Number of items scored per history.</summary>
    int ItemCount { get; }

    /// <summary>Writes scores for <paramref name="histories"/>, row-major [histories, ItemCount], into <paramref name="scores"/>.</summary>
    void Score(IReadOnlyList<int[]> histories, Span<float> scores);
}
