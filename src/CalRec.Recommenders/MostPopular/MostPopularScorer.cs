
namespace CalRec.Recommenders.MostPopular;

/// <summary>Scores every item by how often it occurs in the training sequences, the same for every user.</summary>
public sealed class MostPopularScorer : IRecommenderScorer
{
    private readonly float[] _counts;

    /// <summary>Counts item occurrences in <paramref name="trainSequences"/>.</summary>
    public MostPopularScorer(IReadOnlyList<int[]> trainSequences, int itemCount)
    {
        _counts = new float[itemCount];
        foreach (int[] s in trainSequences)
        {
            foreach (int i in s)
            {
                _counts[i]++;
            }
        }
    }

    /// <summary>Uses given popularity <paramref name="counts"/> (one per item).</summary>
    public MostPopularScorer(float[] counts) => _counts = (float[])counts.Clone();

    /// <inheritdoc />
    public int ItemCount => _counts.Length;

    /// <summary>Training-split count of each item.</summary>
    public IReadOnlyList<float> Counts => _counts;

    /// <inheritdoc />
    public void Score(IReadOnlyList<int[]> histories, Span<float> scores)
    {
        for (int i = 0; i < histories.Count; i++)
        {
            _counts.CopyTo(scores.Slice(i * _counts.Length, _counts.Length));
        }
    }
}
