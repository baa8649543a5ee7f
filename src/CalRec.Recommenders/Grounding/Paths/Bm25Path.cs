using CalRec.Models.Generation;
using CalRec.Text.Retrieval;

namespace CalRec.Recommenders.Grounding;

/// <summary>CALRec's grounding: one BM25 list per generated text, merged quasi-round-robin in order of generation score.</summary>
internal sealed class Bm25Path(Bm25Index index) : IGroundingPath
{
    public GroundingPath Kind => GroundingPath.Bm25;

    public Bm25Index Index { get; } = index;

    public IReadOnlyList<int> List(GroundingQuery query)
    {
        int[] docs = new int[query.ListLength + query.Seen.Count];
        float[] found = new float[docs.Length];
        var lists = new List<IReadOnlyList<int>>(query.Generated.Count);
        foreach (GeneratedSequence g in query.Generated)
        {
            int hits = Index.Search(g.Text, docs, found);
            lists.Add(docs[..hits]);
        }

        return RankFusion.QuasiRoundRobin(lists, query.ListLength, query.Seen);
    }

    public void Score(GroundingQuery query, Span<float> scores) => ListScores.Fill(query.ListOf(this), scores);
}
