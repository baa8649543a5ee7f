using CalRec.Recommenders.Evaluation;

namespace CalRec.Recommenders;

/// <summary>
/// Single-user recommendations from a <see cref="RecommenderModel"/> (ML.NET's PredictionEngine): cheap to create,
/// reuses its buffers between calls, and is therefore not thread-safe. Use one per thread, or
/// <see cref="RecommenderPool"/> in a server.
/// </summary>
public sealed class Recommender
{
    private readonly float[] _scores;
    private readonly PriorityQueue<int, (float, int)> _heap = new();
    private int[] _top = [];

    private readonly IRecommenderScorer _scorer;

    internal Recommender(RecommenderModel model, IRecommenderScorer? scorer = null)
    {
        Model = model;
        _scorer = scorer ?? model;
        _scores = new float[model.ItemCount];
    }

    /// <summary>The model.</summary>
    public RecommenderModel Model { get; }

    /// <summary>
    /// The top <paramref name="k"/> items for a history of item ids (oldest first), best first; items in the history are
    /// left out unless <paramref name="excludeSeen"/> is false.
    /// </summary>
    public IReadOnlyList<ScoredItem> Recommend(IReadOnlyList<string> historyItemIds, int k = 10, bool excludeSeen = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        int[] history = Model.ToIndices(historyItemIds);
        _scorer.Score([history], _scores);
        if (_top.Length < k)
        {
            _top = new int[k];
        }

        int found = TopK.Select(_scores, k, excludeSeen ? history.ToHashSet() : null, _heap, _top);
        var result = new ScoredItem[found];
        for (int i = 0; i < found; i++)
        {
            int item = _top[i];
            result[i] = new ScoredItem(Model.Catalog[item].Id, Model.Catalog[item].Title, _scores[item]);
        }

        return result;
    }
}

/// <summary>A thread-safe pool of <see cref="Recommender"/>s over one model, for servers handling concurrent requests.</summary>
public sealed class RecommenderPool
{
    private readonly System.Collections.Concurrent.ConcurrentBag<Recommender> _free = [];

    /// <summary>Creates an empty pool; recommenders are made on demand and reused.</summary>
    public RecommenderPool(RecommenderModel model) => Model = model;

    /// <summary>The model.</summary>
    public RecommenderModel Model { get; }

    /// <summary>Thread-safe <see cref="Recommender.Recommend"/>.</summary>
    public IReadOnlyList<ScoredItem> Recommend(IReadOnlyList<string> historyItemIds, int k = 10, bool excludeSeen = true)
    {
        Recommender r = _free.TryTake(out Recommender? free) ? free : new Recommender(Model);
        try
        {
            return r.Recommend(historyItemIds, k, excludeSeen);
        }
        finally
        {
            _free.Add(r);
        }
    }
}
