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
    private const int BatchSize = 256;
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
    /// Scores a stream of histories lazily, <see cref="BatchSize"/> users at a time, and yields each user's top
    /// <paramref name="k"/> items (already-seen items left out unless <paramref name="excludeSeen"/> is false).
    /// </summary>
    public IEnumerable<Recommendation> Transform(IEnumerable<UserHistory> users, int k = 10, bool excludeSeen = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        return Stream(users, k, excludeSeen);
    }

    private IEnumerable<Recommendation> Stream(IEnumerable<UserHistory> users, int k, bool excludeSeen)
    {
        var batch = new List<(UserHistory User, int[] History)>(BatchSize);
        float[] scores = new float[BatchSize * ItemCount];
        var heap = new PriorityQueue<int, (float, int)>(k + 1);
        int[] top = new int[k];
        foreach (UserHistory user in users)
        {
            batch.Add((user, ToIndices(user.ItemIds, user.UserId)));
            if (batch.Count == BatchSize)
            {
                foreach (Recommendation r in Flush(batch, scores, k, excludeSeen, heap, top))
                {
                    yield return r;
                }
            }
        }

        foreach (Recommendation r in Flush(batch, scores, k, excludeSeen, heap, top))
        {
            yield return r;
        }
    }

    private List<Recommendation> Flush(List<(UserHistory User, int[] History)> batch, float[] scores, int k, bool excludeSeen,
        PriorityQueue<int, (float, int)> heap, int[] top)
    {
        var result = new List<Recommendation>(batch.Count);
        if (batch.Count == 0)
        {
            return result;
        }

        int n = ItemCount;
        Score(batch.Select(b => b.History).ToList(), scores.AsSpan(0, batch.Count * n));
        for (int u = 0; u < batch.Count; u++)
        {
            ReadOnlySpan<float> row = scores.AsSpan(u * n, n);
            int found = TopK.Select(row, k, excludeSeen ? batch[u].History.ToHashSet() : null, heap, top);
            var items = new ScoredItem[found];
            for (int i = 0; i < found; i++)
            {
                items[i] = new ScoredItem(Catalog[top[i]].Id, Catalog[top[i]].Title, row[top[i]]);
            }

            result.Add(new Recommendation(batch[u].User.UserId, items));
        }

        batch.Clear();
        return result;
    }
}
