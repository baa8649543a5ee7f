using CalRec.Tensors.Kernels;

namespace CalRec.Recommenders.LlmSeqSim;

/// <summary>How LLMSeqSim combines the item embeddings of a history into one session embedding.</summary>
public enum SessionAggregation
{
    /// <summary>The last item only.</summary>
    Last,

    /// <summary>Plain average.</summary>
    Mean,

    /// <summary>Weights growing linearly with recency: item at distance k from the end gets 1/(k+1)... as (n-k)/n.</summary>
    [OptionValue("linear")]
    LinearDecay,

    /// <summary>Harmonic weights 1/(k+1) for the item k steps before the end.</summary>
    [OptionValue("harmonic")]
    HarmonicDecay,

    /// <summary>Weights 1/log2(k+2) for the item k steps before the end.</summary>
    [OptionValue("log")]
    LogDecay,
}

/// <summary>
/// LLMSeqSim (Harte et al., RecSys 2023): item embeddings come from a language model over the item texts; a user's
/// session embedding aggregates the embeddings of the history items, and items are ranked by cosine similarity to it.
/// No training beyond computing the item embeddings.
/// </summary>
public sealed class LlmSeqSimScorer : IRecommenderScorer
{
    private readonly float[] _items;
    private readonly int _dim;

    /// <summary>Uses <paramref name="itemEmbeddings"/> (row-major [items, dim]; rows are L2-normalized here).</summary>
    public LlmSeqSimScorer(float[] itemEmbeddings, int dim, SessionAggregation aggregation = SessionAggregation.Mean, int maxHistory = 50)
    {
        if (dim <= 0 || itemEmbeddings.Length % dim != 0)
        {
            throw new ArgumentException($"Item embeddings of length {itemEmbeddings.Length} are not rows of dimension {dim}.");
        }

        _items = (float[])itemEmbeddings.Clone();
        _dim = dim;
        for (int i = 0; i < ItemCount; i++)
        {
            Span<float> row = _items.AsSpan(i * dim, dim);
            float norm = System.Numerics.Tensors.TensorPrimitives.Norm(row);
            if (norm > 0)
            {
                System.Numerics.Tensors.TensorPrimitives.Multiply(row, 1f / norm, row);
            }
        }

        Aggregation = aggregation;
        MaxHistory = maxHistory;
    }

    /// <inheritdoc />
    public int ItemCount => _items.Length / _dim;

    /// <summary>Embedding dimension.</summary>
    public int Dimension => _dim;

    /// <summary>The L2-normalized item embeddings, row-major [items, Dimension].</summary>
    public ReadOnlySpan<float> ItemEmbeddings => _items;

    /// <summary>How the history is combined.</summary>
    public SessionAggregation Aggregation { get; }

    /// <summary>Most recent items used.</summary>
    public int MaxHistory { get; }

    /// <inheritdoc />
    public void Score(IReadOnlyList<int[]> histories, Span<float> scores)
    {
        float[] sessions = new float[histories.Count * _dim];
        for (int u = 0; u < histories.Count; u++)
        {
            Span<float> s = sessions.AsSpan(u * _dim, _dim);
            int[] h = histories[u];
            int len = Aggregation == SessionAggregation.Last ? Math.Min(1, h.Length) : Math.Min(MaxHistory, h.Length);
            for (int k = 0; k < len; k++)
            {
                int item = h[h.Length - 1 - k];
                float w = Aggregation switch
                {
                    SessionAggregation.LinearDecay => (len - k) / (float)len,
                    SessionAggregation.HarmonicDecay => 1f / (k + 1),
                    SessionAggregation.LogDecay => 1f / MathF.Log2(k + 2),
                    _ => 1f,
                };
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(_items.AsSpan(item * _dim, _dim), w, s, s);
            }

            float norm = System.Numerics.Tensors.TensorPrimitives.Norm(s);
            if (norm > 0)
            {
                System.Numerics.Tensors.TensorPrimitives.Multiply(s, 1f / norm, s);
            }
        }

        Gemm.Multiply(sessions, _items, scores[..(histories.Count * ItemCount)], histories.Count, ItemCount, _dim, transB: true);
    }
}
