namespace CalRec.Models.Embeddings;

/// <summary>
/// An <see cref="ITextEncoder"/> that encodes each distinct text once and answers repeats from memory, so several
/// recommenders built on the same language model (LLMSeqSim variants, LLM2SASRec) embed a catalogue only once.
/// </summary>
/// <param name="inner">The encoder that computes vectors for texts not seen before.</param>
public sealed class CachingTextEncoder(ITextEncoder inner) : ITextEncoder
{
    private readonly Dictionary<string, float[]> _vectors = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public int Dimension => inner.Dimension;

    /// <inheritdoc />
    public float[] Encode(IReadOnlyList<string> texts, CancellationToken cancellation = default)
    {
        int d = Dimension;
        List<string> missing = texts.Where(t => !_vectors.ContainsKey(t)).Distinct(StringComparer.Ordinal).ToList();
        if (missing.Count > 0)
        {
            float[] computed = inner.Encode(missing, cancellation);
            for (int i = 0; i < missing.Count; i++)
            {
                _vectors[missing[i]] = computed.AsSpan(i * d, d).ToArray();
            }
        }

        float[] result = new float[texts.Count * d];
        for (int i = 0; i < texts.Count; i++)
        {
            _vectors[texts[i]].CopyTo(result, i * d);
        }

        return result;
    }
}
