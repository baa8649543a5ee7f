namespace CalRec.Models.Encoder;

/// <summary>The shape of a BERT-style bidirectional encoder (Hugging Face <c>BertModel</c>: post-norm blocks, exact GELU).</summary>
/// <param name="VocabSize">WordPiece vocabulary size.</param>
/// <param name="HiddenSize">Width of every token state.</param>
/// <param name="NumLayers">Transformer blocks.</param>
/// <param name="NumHeads">Attention heads (HiddenSize must be a multiple).</param>
/// <param name="IntermediateSize">Width of the feed-forward layer.</param>
/// <param name="MaxPositions">Learned absolute positions.</param>
/// <param name="TypeVocabSize">Token type (segment) ids.</param>
/// <param name="NormEps">LayerNorm epsilon.</param>
public sealed record BertConfig(int VocabSize, int HiddenSize, int NumLayers, int NumHeads, int IntermediateSize, int MaxPositions = 512, int TypeVocabSize = 2, float NormEps = 1e-12f)
{
    /// <summary>sentence-transformers' all-MiniLM-L6-v2 (22.7 M parameters, 384 dimensions).</summary>
    public static BertConfig MiniLmL6 { get; } = new(30522, 384, 6, 12, 1536);

    /// <summary>Width of one attention head.</summary>
    public int HeadDim => HiddenSize / NumHeads;

    /// <summary>Throws unless every size is positive and the heads divide the width.</summary>
    public BertConfig Validate()
    {
        if (VocabSize <= 0 || HiddenSize <= 0 || NumLayers <= 0 || NumHeads <= 0 || IntermediateSize <= 0 || MaxPositions <= 0 || TypeVocabSize <= 0 || NormEps <= 0)
        {
            throw new ArgumentException($"BERT config: every size must be positive ({this}).");
        }

        if (HiddenSize % NumHeads != 0)
        {
            throw new ArgumentException($"BERT config: hidden size {HiddenSize} is not divisible by {NumHeads} heads.");
        }

        return this;
    }
}
