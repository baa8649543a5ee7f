namespace CalRec.Models.Embeddings;

/// <summary>Anything that maps texts to fixed-size vectors (used by grounding, LLMSeqSim and LLM2SASRec).</summary>
public interface ITextEncoder
{
    /// <summary>Length of each vector.</summary>
    int Dimension { get; }

    /// <summary>Embeds <paramref name="texts"/>; row i of the result (row-major [texts, Dimension]) belongs to text i.</summary>
    float[] Encode(IReadOnlyList<string> texts, CancellationToken cancellation = default);
}
