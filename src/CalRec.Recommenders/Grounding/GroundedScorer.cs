using CalRec.Data.Splits;
using CalRec.Models.Decoder;
using CalRec.Recommenders.CalRec;
using CalRec.Recommenders.Evaluation;
using CalRec.Text.Retrieval;

namespace CalRec.Recommenders.Grounding;

/// <summary>One generated next-item text.</summary>
/// <param name="Text">The decoded text.</param>
/// <param name="LogProb">Its log-probability under the model.</param>
public sealed record GeneratedText(string Text, double LogProb);

/// <summary>A recommended item and the grounding paths whose lists contain it.</summary>
/// <param name="Item">Catalogue index.</param>
/// <param name="Score">Score under the chosen path.</param>
/// <param name="FoundBy">Paths whose list holds the item.</param>
public sealed record ExplainedItem(int Item, float Score, IReadOnlyList<GroundingPath> FoundBy);

/// <summary>What every path produced for one history.</summary>
/// <param name="Generated">The generated texts, best first.</param>
/// <param name="Lists">Each computed path's list of item indices, best first.</param>
/// <param name="Top">The chosen path's top items.</param>
public sealed record GroundingExplanation(IReadOnlyList<GeneratedText> Generated, IReadOnlyDictionary<GroundingPath, IReadOnlyList<int>> Lists, IReadOnlyList<ExplainedItem> Top);

/// <summary>
/// Ranks the catalogue for histories with a trained CALRec model along one grounding path (dense retrieval, BM25
/// quasi-round-robin over N generated texts, BIGRec embedding grounding with optional popularity re-weighting,
/// trie-constrained generation, or their weighted reciprocal-rank fusion): one class per path, this one dispatches.
/// Items outside a path's list rank below every listed item (fusion falls back to the dense order). Deterministic:
/// beam search, or sampling seeded from the options' seed and the history. Not thread-safe.
/// </summary>
public sealed class GroundedScorer : IRecommenderScorer
{
    private readonly CalRecModel _model;
    private readonly Dictionary<GroundingPath, IGroundingPath> _paths;
    private readonly EmbeddingPath _embedding;

    /// <summary>
    /// A scorer ranking along <paramref name="options"/>' path. <paramref name="index"/> replaces the BM25 index built
    /// from the model's item texts; <paramref name="popularity"/> (per-item training counts, see
    /// <see cref="TrainingPopularity"/>) replaces the counts saved with the model for re-weighting; a
    /// <paramref name="collaborative"/> model (for example SASRec trained on the same data) makes its scores for the user
    /// the re-weighting signal instead (items matched by id); an <paramref name="embedder"/> (a backbone of the model's
    /// tokenizer such as the stage-0 one, or a pretrained text encoder such as MiniLM) embeds the generated and item texts
    /// for embedding grounding in place of the finetuned backbone.
    /// </summary>
    public GroundedScorer(CalRecModel model, GroundingOptions options, Bm25Index? index = null, float[]? popularity = null, RecommenderModel? collaborative = null,
        GroundingEmbedder? embedder = null)
    {
        options.Validate();
        if (popularity is not null && popularity.Length != model.ItemCount)
        {
            throw new ArgumentException($"Popularity has {popularity.Length} counts for {model.ItemCount} items.");
        }

        _model = model;
        Options = options = options.Clone();
        CollaborativeScores? collaborativeScores = null;
        if (collaborative is not null)
        {
            options.Signal = ReweightingSignal.Collaborative;
            collaborativeScores = new CollaborativeScores(collaborative, model.Catalog);
        }

        float[]? counts = collaborative is null && options.Signal == ReweightingSignal.Popularity ? popularity ?? model.Towers.Popularity : null;
        embedder ??= GroundingEmbedder.FromBackbone(model.Backbone);
        embedder.Validate(model);
        _embedding = new EmbeddingPath(model, embedder, options.EmbeddingPooling ?? model.Settings.Pooling, options.Distance, options.Gamma, counts, collaborativeScores);
        if (options.Gamma > 0 && !HasSignal)
        {
            throw new ArgumentException(options.Signal == ReweightingSignal.Collaborative
                ? $"γ = {options.Gamma} was chosen for re-weighting by a collaborative model's scores: pass that model (CLI: --collaborative MODEL.zip), or set γ to 0."
                : "Popularity re-weighting (Gamma > 0) needs the model's training popularity, which this model does not carry.");
        }

        if (index is null && model.Bm25 is { } saved && saved.K1 == options.Bm25K1 && saved.B == options.Bm25B)
        {
            index = saved;
        }

        Index = index ?? BuildIndex(model, options);
        model.Bm25 ??= Index;
        _paths = new Dictionary<GroundingPath, IGroundingPath>
        {
            [GroundingPath.Dense] = new DensePath(),
            [GroundingPath.Bm25] = new Bm25Path(Index),
            [GroundingPath.Embedding] = _embedding,
            [GroundingPath.Constrained] = new ConstrainedPath(model, options.ConstrainedBeams),
        };
        _paths[GroundingPath.Fusion] = new FusionPath(_paths, options.FusionWeights);
    }

    /// <summary>Training-split interaction counts of <paramref name="split"/>'s items, mapped onto the model's catalogue by id.</summary>
    public static float[] TrainingPopularity(RecommenderModel model, LeaveOneOutSplit split)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(split);
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

    /// <summary>The settings (a copy of those given; <see cref="GroundingOptions.Signal"/> says which signal re-weights).</summary>
    public GroundingOptions Options { get; }

    /// <summary>Whether a re-weighting signal (popularity counts or a collaborative model) is available.</summary>
    public bool HasSignal => _embedding.HasSignal;

    /// <summary>The BM25 index over the catalogue's item texts.</summary>
    public Bm25Index Index { get; }

    /// <inheritdoc />
    public int ItemCount => _model.ItemCount;

    /// <summary>The item vectors embedding grounding compares against (see <see cref="EmbeddingPath.ItemVectors"/>).</summary>
    internal ReadOnlySpan<float> ItemVectors => _embedding.ItemVectors;

    /// <summary>The embedding path (for tuning γ on raw distances).</summary>
    internal EmbeddingPath Embedding => _embedding;

    /// <summary>The path named <paramref name="path"/>.</summary>
    internal IGroundingPath PathOf(GroundingPath path) => _paths[path];

    /// <summary>A new per-history query with these settings.</summary>
    internal GroundingQuery Query(int[] history) => new(_model, Options, history);

    /// <summary>A BM25 index over the item texts the model's template renders.</summary>
    internal static Bm25Index BuildIndex(CalRecModel model, GroundingOptions options)
    {
        var index = new Bm25Index(options.Bm25K1, options.Bm25B);
        index.AddRange(model.Catalog.Select(i => ItemTextTable.Render(i, model.Settings.Template)));
        return index;
    }

    /// <inheritdoc />
    public void Score(IReadOnlyList<int[]> histories, Span<float> scores)
    {
        int n = ItemCount;
        for (int u = 0; u < histories.Count; u++)
        {
            _paths[Options.Path].Score(Query(histories[u]), scores.Slice(u * n, n));
        }
    }

    /// <summary>The generated texts, every computed list and the chosen path's top <paramref name="k"/> items for a history.</summary>
    public GroundingExplanation Explain(int[] history, int k = 10)
    {
        GroundingQuery query = Query(history);
        // Every list but the constrained one (slow; shown when it is the chosen path or part of the fusion).
        foreach (GroundingPath p in (GroundingPath[])[GroundingPath.Dense, GroundingPath.Bm25, GroundingPath.Embedding])
        {
            query.ListOf(_paths[p]);
        }

        float[] scores = new float[ItemCount];
        _paths[Options.Path].Score(query, scores);
        if (Options.Path == GroundingPath.Constrained)
        {
            query.ListOf(_paths[GroundingPath.Constrained]);
        }

        var lists = query.Lists.Where(l => l.Key != GroundingPath.Fusion).ToDictionary(l => l.Key, l => l.Value);
        var top = TopK.Select(scores, k, query.Seen).Select(i => new ExplainedItem(i, scores[i], lists.Where(l => l.Value.Contains(i)).Select(l => l.Key).ToList())).ToList();
        return new GroundingExplanation(query.Generated.Select(g => new GeneratedText(g.Text, g.LogProb)).ToList(), lists, top);
    }
}
