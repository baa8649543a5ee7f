using CalRec.Models.Embeddings;
using CalRec.Models.Generation;
using CalRec.Recommenders.CalRec;
using CalRec.Recommenders.Evaluation;

namespace CalRec.Recommenders.Grounding;

/// <summary>
/// BIGRec's grounding: every item's distance (L2 or cosine) to the closest generated text in an embedding space,
/// optionally re-weighted D' = D_norm·(1 + C_norm)^(−γ) by popularity counts or a collaborative model's scores. The
/// space is a <see cref="GroundingEmbedder"/>: a backbone of the model's tokenizer, or a pretrained text encoder.
/// </summary>
internal sealed class EmbeddingPath : IGroundingPath
{
    private readonly CalRecModel _model;
    private readonly GroundingEmbedder _embedder;
    private readonly Pooling _pooling;
    private readonly GroundingDistance _distance;
    private readonly float _gamma;
    private readonly float[]? _popularity;
    private readonly CollaborativeScores? _collaborative;
    private float[]? _itemVectors;
    private GroundingQuery? _lastQuery;
    private float[]? _lastScores;

    public EmbeddingPath(CalRecModel model, GroundingEmbedder embedder, Pooling pooling, GroundingDistance distance, float gamma, float[]? popularity, CollaborativeScores? collaborative)
    {
        (_model, _embedder, _pooling, _distance, _gamma) = (model, embedder, pooling, distance, gamma);
        (_popularity, _collaborative) = (popularity, collaborative);
    }

    public GroundingPath Kind => GroundingPath.Embedding;

    /// <summary>Whether a re-weighting signal (popularity counts or a collaborative model) is available.</summary>
    public bool HasSignal => _popularity is not null || _collaborative is not null;

    /// <summary>
    /// The L2-normalized item vectors compared against: the saved item index when the backbone and pooling are the
    /// model's own, otherwise every item encoded once in the embedder's space.
    /// </summary>
    public ReadOnlySpan<float> ItemVectors => _embedder.IsModelIndex(_model, _pooling)
        ? _model.Towers.ItemEmbeddings
        : _itemVectors ??= _embedder.Catalogue(_model, _pooling);

    public IReadOnlyList<int> List(GroundingQuery query) => TopK.Select(Scores(query), query.ListLength, query.Seen);

    public void Score(GroundingQuery query, Span<float> scores) => Scores(query).CopyTo(scores);

    /// <summary>
    /// Per item: −(re-weighted) distance to the closest generated text; higher is better. Kept for the last query, so a
    /// history whose list and scores are both needed (an explanation of this path) embeds its generated texts once.
    /// </summary>
    public float[] Scores(GroundingQuery query)
    {
        if (!ReferenceEquals(_lastQuery, query))
        {
            _lastScores = Reweighted(RawDistances(query), _gamma, _gamma > 0 ? Signal(query.History) : null);
            _lastQuery = query;
        }

        return _lastScores!;
    }

    /// <summary>The re-weighting signal C for one history (null without one).</summary>
    public float[]? Signal(int[] history)
    {
        if (_collaborative is null)
        {
            return _popularity;
        }

        float[] c = new float[_model.ItemCount];
        _collaborative.Fill(history, c);
        return c;
    }

    /// <summary>−D' (higher is better) from raw distances, re-weighted by <paramref name="signal"/> with <paramref name="gamma"/>.</summary>
    public static float[] Reweighted(float[] raw, float gamma, float[]? signal)
    {
        float[] result = (float[])raw.Clone();
        if (gamma > 0 && signal is not null)
        {
            PopularityReweighting.Apply(raw, signal, gamma, result);
        }

        for (int i = 0; i < result.Length; i++)
        {
            result[i] = -result[i];
        }

        return result;
    }

    /// <summary>Per item, the distance of its embedding to the closest generated text's.</summary>
    public float[] RawDistances(GroundingQuery query)
    {
        List<GeneratedSequence> generated = query.Generated;
        int n = _model.ItemCount, d = _embedder.Dimension;
        float[] distance = new float[n];
        if (generated.Count == 0)
        {
            Array.Fill(distance, 1f);
            return distance;
        }

        Array.Fill(distance, float.PositiveInfinity);
        float[] vectors = _embedder.Generated(_model, generated, _pooling);
        ReadOnlySpan<float> items = ItemVectors;
        for (int i = 0; i < n; i++)
        {
            ReadOnlySpan<float> item = items.Slice(i * d, d);
            for (int g = 0; g < generated.Count; g++)
            {
                float cos = System.Numerics.Tensors.TensorPrimitives.Dot(item, vectors.AsSpan(g * d, d));
                float dist = _distance == GroundingDistance.Cosine ? 1f - cos : MathF.Sqrt(MathF.Max(0f, 2f - (2f * cos)));
                distance[i] = Math.Min(distance[i], dist);
            }
        }

        return distance;
    }
}
