using CalRec.Models.Decoder;
using CalRec.Models.Embeddings;
using CalRec.Tensors;
using CalRec.Tensors.Autograd;
using CalRec.Tensors.Memory;
using CalRec.Text.Templates;
using CalRec.Text.Tokenization;
using F = CalRec.Tensors.Functional;

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
/// users). The item vectors are computed once, when the model is built.
/// </summary>
public sealed class CalRecScorer : IRecommenderScorer
{
    private const int UsersPerPass = 32;
    private readonly ItemTextTable _table;
    private readonly float[] _items;
    private readonly object _gate = new();
    private readonly float[]? _prior;

    internal CalRecScorer(DecoderLM backbone, ByteLevelBpeTokenizer tokenizer, ItemTextTable table, CalRecSettings settings, float[]? itemEmbeddings = null, float[]? popularity = null,
        float popularityPrior = 0f, float identityWeight = 0f)
    {
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
        _items = itemEmbeddings ?? EncodeCatalogue(backbone, table, settings.Pooling);
        if (_items.Length != table.Count * Dimension)
        {
            throw new ArgumentException($"Item embeddings hold {_items.Length} values; {table.Count} items of dimension {Dimension} need {table.Count * Dimension}.");
        }
    }

    /// <summary>The shared decoder of both towers.</summary>
    public DecoderLM Backbone { get; }

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
    internal CalRecScorer WithPopularityPrior(float weight) => new(Backbone, Tokenizer, _table, Settings, _items, Popularity, weight, IdentityWeight);

    /// <summary>The same towers and item index with another identity weight.</summary>
    internal CalRecScorer WithIdentityWeight(float weight) => new(Backbone, Tokenizer, _table, Settings, _items, Popularity, PopularityPrior, weight);

    /// <summary>Embedding size.</summary>
    public int Dimension => Backbone.Config.HiddenSize;

    /// <summary>The L2-normalized item-tower vectors, row-major [items, Dimension].</summary>
    public ReadOnlySpan<float> ItemEmbeddings => _items;

    /// <inheritdoc />
    public int ItemCount => _table.Count;

    /// <inheritdoc />
    public void Score(IReadOnlyList<int[]> histories, Span<float> scores)
    {
        int n = ItemCount;
        // The backbone's layers are shared; one batch at a time keeps concurrent callers (a recommender pool) safe.
        lock (_gate)
        {
            using (Backbone.EvalScope())
            {
                // The item index becomes a tensor once per call, not once per pass of users.
                using TensorScope outer = TensorScope.Begin();
                ManagedTensor items = ManagedTensor.from(_items, n, Dimension);
                ManagedTensor? identities = null;
                if (IdentityWeight > 0f)
                {
                    using Tape.NoGradScope noGradRows = Tape.no_grad();
                    identities = F.slice(Backbone.OutputWeight, 0, _table.IdentityBase!.Value, n);
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

                    using TensorScope scope = TensorScope.Begin();
                    using Tape.NoGradScope noGrad = Tape.no_grad();
                    ManagedTensor users = F.l2_normalize(TwoTowerEncoder.EncodeHistories(Backbone, _table, chunk, Settings.Pooling, out ManagedTensor lastStates));
                    Span<float> block = scores.Slice(start * n, b * n);
                    users.matmul(items, transB: true).Data.CopyTo(block);
                    if (identities is not null)
                    {
                        System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(lastStates.matmul(identities, transB: true).Data, IdentityWeight, block, block);
                    }

                    if (_prior is not null)
                    {
                        for (int i = 0; i < b; i++)
                        {
                            System.Numerics.Tensors.TensorPrimitives.Add(block.Slice(i * n, n), _prior, block.Slice(i * n, n));
                        }
                    }
                }
            }
        }
    }

    /// <summary>Item-tower vectors of the whole catalogue, L2-normalized, row-major [items, D].</summary>
    internal static float[] EncodeCatalogue(DecoderLM backbone, ItemTextTable table, Pooling pooling, CancellationToken cancellation = default)
    {
        const int ItemsPerPass = 64;
        int d = backbone.Config.HiddenSize;
        float[] result = new float[table.Count * d];
        using (backbone.EvalScope())
        {
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

                using TensorScope scope = TensorScope.Begin();
                using Tape.NoGradScope noGrad = Tape.no_grad();
                ReadOnlySpan<float> v = F.l2_normalize(TwoTowerEncoder.EncodeItems(backbone, items, pooling)).Data;
                for (int i = 0; i < b; i++)
                {
                    v.Slice(i * d, d).CopyTo(result.AsSpan(order[start + i] * d, d));
                }
            }
        }

        return result;
    }
}
