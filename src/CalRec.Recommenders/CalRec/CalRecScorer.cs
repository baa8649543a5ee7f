using CalRec.Models.Decoder;
using CalRec.Models.Embeddings;
using System.Numerics.Tensors;
using CalRec.Tensors;
using CalRec.Tensors.Kernels;
using CalRec.Text.Templates;
using CalRec.Text.Tokenization;

namespace CalRec.Recommenders.CalRec;

/// <summary>How a trained CALRec model serializes and pools (saved with the model).</summary>
/// <param name="Template">Item text template, or null for the title followed by every attribute.</param>
/// <param name="Pooling">Pooling of both towers.</param>
/// <param name="MaxHistory">Most recent history items the user tower reads.</param>
/// <param name="MaxItemTokens">Tokens kept of each item's text.</param>
/// <param name="MaxHistoryTokens">Tokens of a serialized history (older items are dropped to fit).</param>
/// <param name="IdentityTokenBase">
/// The item-ID hybrid: the backbone's id of item 0's identity token (item i has this plus i; each item's text starts
/// with it), or null: items are text alone.
/// </param>
public sealed record CalRecSettings(ItemTextTemplate? Template, Pooling Pooling, int MaxHistory, int MaxItemTokens, int MaxHistoryTokens, int? IdentityTokenBase = null);

/// <summary>
/// Dense two-tower retrieval: a history is serialized and encoded by the user tower, and every catalogue item is
/// scored by the cosine similarity of that vector with the item's precomputed item-tower vector (one GEMM per batch of
/// users). The item vectors are computed once, when the model is built; the identity rows of the item-ID hybrid on the
/// first scored batch.
/// </summary>
public sealed class CalRecScorer : IRecommenderScorer
{
    private const int UsersPerPass = 32;
    private readonly ItemTextTable _table;
    private readonly float[] _items;
    private readonly object _gate = new();
    private readonly float[]? _prior;

    // The identity rows and a logits buffer, made on the first scored batch and kept (guarded by _gate): copying
    // [items, D] rows per call left hundreds of megabytes of large-object garbage behind each validation.
    private float[]? _identities;
    private float[]? _logits;

    internal CalRecScorer(DecoderLM backbone, ByteLevelBpeTokenizer tokenizer, ItemTextTable table, CalRecSettings settings, float[]? itemEmbeddings = null, float[]? popularity = null,
        float popularityPrior = 0f, float identityWeight = 0f, ICalRecTowers? towers = null)
    {
        Towers = towers ?? new ManagedTowers(backbone);
        if (identityWeight < 0f || !float.IsFinite(identityWeight) || (identityWeight > 0f && table.IdentityBase is null))
        {
            throw new ArgumentException($"An identity weight must be finite and not negative, and needs a model with item identity tokens; got {identityWeight}.");
        }

        IdentityWeight = identityWeight;
        if (popularityPrior < 0f || !float.IsFinite(popularityPrior) || (popularityPrior > 0f && popularity is null))
        {
            throw new ArgumentException($"A popularity prior must be finite and not negative, and needs the training popularity; got {popularityPrior}{(popularity is null ? " without popularity" : string.Empty)}.");
        }

        PopularityPrior = popularityPrior;
        _prior = popularityPrior > 0f ? popularity!.Select(c => popularityPrior * MathF.Log(1f + c)).ToArray() : null;
        if (popularity is not null && popularity.Length != table.Count)
        {
            throw new ArgumentException($"Popularity has {popularity.Length} values for {table.Count} items.");
        }

        Popularity = popularity;
        Backbone = backbone;
        Tokenizer = tokenizer;
        Settings = settings;
        _table = table;
        _items = itemEmbeddings ?? EncodeCatalogue(Towers, table, settings.Pooling);
        if (_items.Length != table.Count * Dimension)
        {
            throw new ArgumentException($"Item embeddings hold {_items.Length} values; {table.Count} items of dimension {Dimension} need {table.Count * Dimension}.");
        }
    }

    /// <summary>The shared decoder of both towers.</summary>
    public DecoderLM Backbone { get; }

    /// <summary>The forward pass of the towers when scoring (our engine's over <see cref="Backbone"/>, or a training engine's on its device).</summary>
    internal ICalRecTowers Towers { get; }

    /// <summary>The backbone's tokenizer.</summary>
    public ByteLevelBpeTokenizer Tokenizer { get; }

    /// <summary>Serialization and pooling settings.</summary>
    public CalRecSettings Settings { get; }

    /// <summary>Training-split interaction count per item (for popularity re-weighting), or null.</summary>
    public float[]? Popularity { get; }

    /// <summary>The catalogue's item texts as tokens.</summary>
    internal ItemTextTable Table => _table;

    /// <summary>
    /// w of the popularity prior: each item's score is its cosine with the user plus w·ln(1 + its training count)
    /// (0: the two towers alone). The dense towers spread recommendations evenly over popularity while the test targets
    /// lean to popular items; see <see cref="CalRecModel.TunePopularityPrior"/>.
    /// </summary>
    public float PopularityPrior { get; }

    /// <summary>
    /// λ of the item-ID hybrid's identity head: each item's score adds λ·(h·e_i), where h is the user's final hidden
    /// state at the history's closing separator and e_i the item's identity-token row of the output projection, that is
    /// the next-identity logit L_NIG trains with a softmax over the catalogue (0: the two towers alone). Dense scores are
    /// cosines, so λ = τ weighs the two as the product of their training softmaxes.
    /// </summary>
    public float IdentityWeight { get; }

    /// <summary>The same towers and item index with another popularity prior.</summary>
    internal CalRecScorer WithPopularityPrior(float weight) => new(Backbone, Tokenizer, _table, Settings, _items, Popularity, weight, IdentityWeight, Towers);

    /// <summary>The same towers and item index with another identity weight.</summary>
    internal CalRecScorer WithIdentityWeight(float weight) => new(Backbone, Tokenizer, _table, Settings, _items, Popularity, PopularityPrior, weight, Towers);

    /// <summary>Embedding size.</summary>
    public int Dimension => Backbone.Config.HiddenSize;

    /// <summary>The L2-normalized item-tower vectors, row-major [items, Dimension].</summary>
    public ReadOnlySpan<float> ItemEmbeddings => _items;

    /// <inheritdoc />
    public int ItemCount => _table.Count;

    /// <inheritdoc />
    public void Score(IReadOnlyList<int[]> histories, Span<float> scores)
    {
        int n = ItemCount, d = Dimension;
        // The towers' layers are shared; one batch at a time keeps concurrent callers (a recommender pool) safe.
        lock (_gate)
        {
            float[]? identities = null, logits = null;
            if (IdentityWeight > 0f)
            {
                identities = _identities ??= Towers.OutputRows(_table.IdentityBase!.Value, n);
                logits = _logits ??= new float[UsersPerPass * n];
            }

            for (int start = 0; start < histories.Count; start += UsersPerPass)
            {
                int b = Math.Min(UsersPerPass, histories.Count - start);
                var chunk = new int[b][];
                for (int i = 0; i < b; i++)
                {
                    int[] h = histories[start + i];
                    if (h.Length == 0)
                    {
                        throw new ArgumentException($"History {start + i} is empty: the user tower needs at least one item.");
                    }

                    chunk[i] = _table.Fit(h, Settings.MaxHistory, Settings.MaxHistoryTokens).ToArray();
                }

                (int[] ids, float[] mask, int length, int[] last) = TwoTowerEncoder.HistoryRows(_table, chunk);
                float[]? lastStates = identities is null ? null : new float[b * d];
                float[] users = Towers.Encode(ids, mask, b, length, last, Settings.Pooling, lastStates);
                Span<float> block = scores.Slice(start * n, b * n);
                for (int i = 0; i < b; i++)
                {
                    Span<float> user = users.AsSpan(i * d, d);
                    float norm = MathF.Max(TensorPrimitives.Norm(user), 1e-12f);
                    TensorPrimitives.Divide(user, norm, user);
                }

                Gemm.Multiply(users, _items, block, b, n, d, transB: true);
                if (identities is not null)
                {
                    Span<float> next = logits.AsSpan(0, b * n);
                    Gemm.Multiply(lastStates!, identities, next, b, n, d, transB: true);
                    TensorPrimitives.MultiplyAdd(next, IdentityWeight, block, block);
                }

                if (_prior is not null)
                {
                    for (int i = 0; i < b; i++)
                    {
                        TensorPrimitives.Add(block.Slice(i * n, n), _prior, block.Slice(i * n, n));
                    }
                }
            }
        }
    }

    /// <summary>Item-tower vectors of the whole catalogue, L2-normalized, row-major [items, D].</summary>
    internal static float[] EncodeCatalogue(DecoderLM backbone, ItemTextTable table, Pooling pooling, CancellationToken cancellation = default) =>
        EncodeCatalogue(new ManagedTowers(backbone), table, pooling, cancellation);

    /// <summary>Item-tower vectors of the whole catalogue through <paramref name="towers"/>, L2-normalized, row-major [items, D].</summary>
    internal static float[] EncodeCatalogue(ICalRecTowers towers, ItemTextTable table, Pooling pooling, CancellationToken cancellation = default)
    {
        const int ItemsPerPass = 64;
        int d = towers.Dimension;
        float[] result = new float[table.Count * d];
        // Sorting by length keeps padding low.
        int[] order = Enumerable.Range(0, table.Count).OrderBy(i => table.Tokens(i).Length).ToArray();
        for (int start = 0; start < order.Length; start += ItemsPerPass)
        {
            cancellation.ThrowIfCancellationRequested();
            int b = Math.Min(ItemsPerPass, order.Length - start);
            var items = new (ItemTextTable, int)[b];
            for (int i = 0; i < b; i++)
            {
                items[i] = (table, order[start + i]);
            }

            (int[] ids, float[] mask, int length, int[] last) = TwoTowerEncoder.ItemRows(items);
            float[] v = towers.Encode(ids, mask, b, length, last, pooling);
            for (int i = 0; i < b; i++)
            {
                Span<float> row = result.AsSpan(order[start + i] * d, d);
                v.AsSpan(i * d, d).CopyTo(row);
                TensorPrimitives.Divide(row, MathF.Max(TensorPrimitives.Norm(row), 1e-12f), row);
            }
        }

        return result;
    }
}
