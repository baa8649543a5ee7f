using CalRec.Data;
using CalRec.Recommenders.Catalogs;
using CalRec.Recommenders.Evaluation;

namespace CalRec.Recommenders;

/// <summary>A user's history by item id, oldest first: the input row of <see cref="RecommenderModel.Transform"/>.</summary>
/// <param name="UserId">The user (echoed in the output).</param>
/// <param name="ItemIds">Item ids, oldest first.</param>
public sealed record UserHistory(string UserId, IReadOnlyList<string> ItemIds);

/// <summary>One recommended item.</summary>
/// <param name="ItemId">Catalogue id.</param>
/// <param name="Title">Catalogue title.</param>
/// <param name="Score">The model's score (comparable within one user's list only).</param>
public sealed record ScoredItem(string ItemId, string Title, float Score);

/// <summary>The output row of <see cref="RecommenderModel.Transform"/>: a user's top items, best first.</summary>
/// <param name="UserId">The user.</param>
/// <param name="Items">Recommended items, best first.</param>
public sealed record Recommendation(string UserId, IReadOnlyList<ScoredItem> Items);

/// <summary>What a model was trained on and how (saved inside the model zip).</summary>
/// <param name="Dataset">Training dataset name.</param>
/// <param name="TrainedAtUtc">When training finished.</param>
/// <param name="Seconds">Training wall time.</param>
/// <param name="Epochs">Epochs run (0 for models without epochs).</param>
/// <param name="ValidationNdcg10">Best validation NDCG@10 during training, when measured.</param>
/// <param name="Settings">The trainer's settings as name/value strings.</param>
public sealed record TrainingInfo(string Dataset, DateTimeOffset TrainedAtUtc, double Seconds, int Epochs, double? ValidationNdcg10,
    IReadOnlyDictionary<string, string> Settings);

/// <summary>
/// A fitted recommender (the transformer of ML.NET's estimator/transformer pair): a scorer over a fixed catalogue, with
/// lazy, streaming <see cref="Transform"/>, and what it was trained with. Save and load it with
/// <see cref="RecModelCatalog"/>.
/// </summary>
public class RecommenderModel : IRecommenderScorer
{
    private readonly Dictionary<string, int> _index;

    internal RecommenderModel(string kind, IRecommenderScorer scorer, IReadOnlyList<CatalogItem> catalog, TrainingInfo training)
    {
        if (scorer.ItemCount != catalog.Count)
        {
            throw new ArgumentException($"The scorer covers {scorer.ItemCount} items but the catalogue has {catalog.Count}.");
        }

        Kind = kind;
        Scorer = scorer;
        Catalog = catalog;
        Training = training;
        _index = new Dictionary<string, int>(catalog.Count, StringComparer.Ordinal);
        for (int i = 0; i < catalog.Count; i++)
        {
            _index[catalog[i].Id] = i;
        }
    }

    /// <summary>The model kind (<c>mostpop</c>, <c>sasrec</c>, <c>llmseqsim</c>, <c>llm2sasrec</c>, ...).</summary>
    public string Kind { get; }

    /// <summary>The numeric scorer behind the model.</summary>
    public IRecommenderScorer Scorer { get; }

    /// <summary>The catalogue; item index = position.</summary>
    public IReadOnlyList<CatalogItem> Catalog { get; }

    /// <summary>Training provenance.</summary>
    public TrainingInfo Training { get; }

    /// <inheritdoc />
    public int ItemCount => Catalog.Count;

    /// <inheritdoc />
    public void Score(IReadOnlyList<int[]> histories, Span<float> scores) => Scorer.Score(histories, scores);

    /// <summary>The index of <paramref name="itemId"/> in <see cref="Catalog"/>, or null.</summary>
    public int? IndexOf(string itemId) => _index.TryGetValue(itemId, out int i) ? i : null;

    /// <summary>
    /// Maps a history of item ids to item indices. An empty history or an id outside the catalogue is an
    /// <see cref="ArgumentException"/> naming the position and id.
    /// </summary>
    public int[] ToIndices(IReadOnlyList<string> itemIds, string? user = null)
    {
        string who = user is null ? "the history" : $"the history of user '{user}'";
        if (itemIds.Count == 0)
        {
            throw new ArgumentException($"{who} is empty: give at least one item id.");
        }

        int[] result = new int[itemIds.Count];
        for (int k = 0; k < itemIds.Count; k++)
        {
            result[k] = IndexOf(itemIds[k]) ?? throw new ArgumentException($"{who}: item '{itemIds[k]}' (position {k + 1}) is not in the model's catalogue of {ItemCount:N0} items.");
        }

        return result;
    }

    /// <summary>
    /// Scores a stream of histories lazily, <see cref="BlockRecommender.BatchSize"/> users at a time, and yields each user's top
    /// <paramref name="k"/> items (already-seen items left out unless <paramref name="excludeSeen"/> is false).
    /// </summary>
    public IEnumerable<Recommendation> Transform(IEnumerable<UserHistory> users, int k = 10, bool excludeSeen = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        return Stream(users, k, excludeSeen);
    }

    private IEnumerable<Recommendation> Stream(IEnumerable<UserHistory> users, int k, bool excludeSeen)
    {
        var scorer = new BlockRecommender(this, k, excludeSeen);
        var batch = new List<UserHistory>(BlockRecommender.BatchSize);
        foreach (UserHistory user in users)
        {
            batch.Add(user);
            if (batch.Count == BlockRecommender.BatchSize)
            {
                foreach (Recommendation r in scorer.Recommend(batch))
                {
                    yield return r;
                }

                batch.Clear();
            }
        }

        foreach (Recommendation r in scorer.Recommend(batch))
        {
            yield return r;
        }
    }
}

/// <summary>
/// Top-K recommendations for blocks of up to <see cref="BatchSize"/> histories, scored in one batch each, with the
/// score matrix and selection buffers allocated once and reused from block to block (not thread-safe).
/// </summary>
public sealed class BlockRecommender
{
    /// <summary>Histories scored per batch.</summary>
    public const int BatchSize = 256;

    private readonly RecommenderModel _model;
    private readonly IRecommenderScorer _scorer;
    private readonly int _k;
    private readonly bool _excludeSeen;
    private readonly float[] _scores;
    private readonly PriorityQueue<int, (float, int)> _heap;
    private readonly int[] _top;

    /// <summary>
    /// Creates the buffers for <paramref name="model"/>'s catalogue; <paramref name="scorer"/> (default: the model
    /// itself) scores, for example a grounded scorer over a CALRec model.
    /// </summary>
    public BlockRecommender(RecommenderModel model, int k, bool excludeSeen, IRecommenderScorer? scorer = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        if (scorer is not null && scorer.ItemCount != model.ItemCount)
        {
            throw new ArgumentException($"The scorer covers {scorer.ItemCount} items, the model's catalogue {model.ItemCount}.", nameof(scorer));
        }

        _model = model;
        _scorer = scorer ?? model;
        _k = k;
        _excludeSeen = excludeSeen;
        _scores = new float[BatchSize * model.ItemCount];
        _heap = new PriorityQueue<int, (float, int)>(k + 1);
        _top = new int[k];
    }

    /// <summary>The recommendations of <paramref name="users"/> (at most <see cref="BatchSize"/>), in order.</summary>
    public List<Recommendation> Recommend(IReadOnlyList<UserHistory> users)
    {
        if (users.Count > BatchSize)
        {
            throw new ArgumentException($"At most {BatchSize} histories per block, not {users.Count}.", nameof(users));
        }

        var result = new List<Recommendation>(users.Count);
        if (users.Count == 0)
        {
            return result;
        }

        int n = _model.ItemCount;
        var histories = users.Select(u => _model.ToIndices(u.ItemIds, u.UserId)).ToList();
        _scorer.Score(histories, _scores.AsSpan(0, users.Count * n));
        for (int u = 0; u < users.Count; u++)
        {
            ReadOnlySpan<float> row = _scores.AsSpan(u * n, n);
            int found = TopK.Select(row, _k, _excludeSeen ? histories[u].ToHashSet() : null, _heap, _top);
            var items = new ScoredItem[found];
            for (int i = 0; i < found; i++)
            {
                items[i] = new ScoredItem(_model.Catalog[_top[i]].Id, _model.Catalog[_top[i]].Title, row[_top[i]]);
            }

            result.Add(new Recommendation(users[u].UserId, items));
        }

        return result;
    }
}
