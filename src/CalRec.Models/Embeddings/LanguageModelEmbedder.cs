using CalRec.Models.Decoder;
using CalRec.Tensors;
using CalRec.Tensors.Autograd;
using CalRec.Tensors.Memory;
using CalRec.Text.Tokenization;

namespace CalRec.Models.Embeddings;

/// <summary>How token states become one vector per text.</summary>
public enum Pooling
{
    /// <summary>Average over the real (non-padding) tokens.</summary>
    Mean,

    /// <summary>The state of the last real token (what a causal model has read everything by).</summary>
    LastToken,
}

/// <summary>
/// Text embeddings from a decoder LM's final hidden states: texts are tokenized, right-padded into batches, run with a
/// padding mask, and pooled (mean or last token), optionally L2-normalized.
/// </summary>
public sealed class LanguageModelEmbedder(DecoderLM model, ByteLevelBpeTokenizer tokenizer, Pooling pooling = Pooling.Mean, bool normalize = true,
    int batchSize = 32, int maxTokens = 128) : ITextEncoder
{
    /// <inheritdoc />
    public int Dimension => model.Config.HiddenSize;

    /// <inheritdoc />
    public float[] Encode(IReadOnlyList<string> texts, CancellationToken cancellation = default)
    {
        int d = Dimension;
        float[] result = new float[texts.Count * d];
        int padId = tokenizer.TokenToId(SpecialTokens.Pad) ?? tokenizer.TokenToId(SpecialTokens.EndOfText) ?? 0;
        using (model.EvalScope())
        {
            for (int start = 0; start < texts.Count; start += batchSize)
            {
                cancellation.ThrowIfCancellationRequested();
                var chunk = texts.Skip(start).Take(batchSize).ToList();
                BatchEncoding batch = tokenizer.EncodeBatch(chunk, maxTokens, padId);
                using TensorScope scope = TensorScope.Begin();
                using Tape.NoGradScope noGrad = Tape.no_grad();
                var mask = ManagedTensor.from(batch.AttentionMask, batch.Count, batch.Length);
                ManagedTensor hidden = model.Hidden(batch.Ids, batch.Count, batch.Length, mask);
                ManagedTensor pooled = pooling == Pooling.Mean
                    ? Functional.masked_mean_pool(hidden, mask)
                    : Functional.last_token_pool(hidden, batch.Lengths.Select(l => Math.Max(0, l - 1)).ToArray());
                if (normalize)
                {
                    pooled = Functional.l2_normalize(pooled);
                }

                pooled.Data.CopyTo(result.AsSpan(start * d, chunk.Count * d));
            }
        }

        return result;
    }
}
