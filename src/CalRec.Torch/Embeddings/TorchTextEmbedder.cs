using CalRec.Models.Embeddings;
using CalRec.Text.Tokenization;
using CalRec.Torch.CalRec;
using CalRec.Torch.Decoder;

namespace CalRec.Torch.Embeddings;

/// <summary>
/// Text embeddings from a TorchSharp decoder, on its device, as our engine's <see cref="LanguageModelEmbedder"/> computes
/// them: texts tokenized and right-padded into batches, final hidden states pooled (mean or last token), optionally
/// L2-normalized (LLMSeqSim's item vectors, LLM2SASRec's initialization, BIGRec's grounding space from a GPU backbone).
/// </summary>
/// <param name="model">The decoder.</param>
/// <param name="tokenizer">Its tokenizer.</param>
/// <param name="pooling">How token states become one vector.</param>
/// <param name="normalize">Whether vectors are L2-normalized.</param>
/// <param name="batchSize">Texts per forward pass.</param>
/// <param name="maxTokens">Tokens kept of each text.</param>
public sealed class TorchTextEmbedder(TorchDecoderLM model, ByteLevelBpeTokenizer tokenizer, Pooling pooling = Pooling.Mean, bool normalize = true,
    int batchSize = 32, int maxTokens = 128) : ITextEncoder
{
    private readonly TorchCalRecTowers _towers = new(model);

    /// <inheritdoc />
    public int Dimension => model.Config.HiddenSize;

    /// <inheritdoc />
    public float[] Encode(IReadOnlyList<string> texts, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(texts);
        int d = Dimension;
        float[] result = new float[texts.Count * d];
        int padId = tokenizer.TokenToId(SpecialTokens.Pad) ?? tokenizer.TokenToId(SpecialTokens.EndOfText) ?? 0;
        for (int start = 0; start < texts.Count; start += batchSize)
        {
            cancellation.ThrowIfCancellationRequested();
            var chunk = texts.Skip(start).Take(batchSize).ToList();
            BatchEncoding batch = tokenizer.EncodeBatch(chunk, maxTokens, padId);
            int[] last = batch.Lengths.Select(l => Math.Max(0, l - 1)).ToArray();
            float[] pooled = _towers.Encode(batch.Ids, batch.AttentionMask, batch.Count, batch.Length, last, pooling);
            for (int i = 0; i < chunk.Count; i++)
            {
                Span<float> row = pooled.AsSpan(i * d, d);
                if (normalize)
                {
                    System.Numerics.Tensors.TensorPrimitives.Divide(row, MathF.Max(System.Numerics.Tensors.TensorPrimitives.Norm(row), 1e-12f), row);
                }

                row.CopyTo(result.AsSpan((start + i) * d, d));
            }
        }

        return result;
    }
}
