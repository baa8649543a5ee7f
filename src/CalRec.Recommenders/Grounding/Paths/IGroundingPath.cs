namespace CalRec.Recommenders.Grounding;

/// <summary>One way of turning a history into a ranking of real catalogue items (see <see cref="GroundingPath"/>).</summary>
internal interface IGroundingPath
{
    /// <summary>Which path this is.</summary>
    GroundingPath Kind { get; }

    /// <summary>The path's ranked list of unseen items for <paramref name="query"/>, at most <see cref="GroundingQuery.ListLength"/> long.</summary>
    IReadOnlyList<int> List(GroundingQuery query);

    /// <summary>Scores of every item when this path ranks alone (higher first).</summary>
    void Score(GroundingQuery query, Span<float> scores);
}

/// <summary>Paths that rank by a list: listed items above all others, in list order.</summary>
internal static class ListScores
{
    public static void Fill(IReadOnlyList<int> list, Span<float> scores)
    {
        scores.Fill(float.MinValue);
        for (int r = 0; r < list.Count; r++)
        {
            scores[list[r]] = list.Count - r;
        }
    }
}
