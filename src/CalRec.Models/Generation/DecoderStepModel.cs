using CalRec.Models.Decoder;
using CalRec.Tensors;
using CalRec.Tensors.Autograd;
using CalRec.Tensors.Memory;
using CalRec.Tensors.NN;

namespace CalRec.Models.Generation;

/// <summary>
/// <see cref="IStepModel"/> over a <see cref="DecoderLM"/>. Prompts of different lengths are left-padded (masked, with
/// per-row positions). With the KV cache each step runs the model on one new token per row; without it every step
/// recomputes the whole sequence (the reference the cache is tested and benchmarked against).
/// </summary>
public sealed class DecoderStepModel(DecoderLM model, bool useKvCache = true, int maxTokens = 512) : IStepModel, IDisposable
{
    private readonly GenerationRows _rows = new();
    private KvCache? _cache;

    /// <inheritdoc />
    public int VocabularySize => model.Config.VocabSize;

    /// <inheritdoc />
    public float[] Start(IReadOnlyList<int[]> prompts)
    {
        _rows.Start(prompts);
        _cache?.Dispose();
        _cache = useKvCache ? new KvCache(model.Config, prompts.Count, Math.Min(maxTokens, model.Config.MaxPositions)) : null;
        return useKvCache ? Run(_rows.Tokens, _rows.Length, _rows.Positions()) : Recompute();
    }

    /// <inheritdoc />
    public float[] Step(int[] tokens)
    {
        int[] positions = _rows.Append(tokens);
        return useKvCache ? Run(tokens, 1, positions) : Recompute();
    }

    /// <inheritdoc />
    public void Reorder(IReadOnlyList<int> sources)
    {
        _rows.Reorder(sources);
        _cache?.Reorder(sources);
    }

    /// <summary>Returns the KV cache's buffers to the pool.</summary>
    public void Dispose() => _cache?.Dispose();

    private float[] Recompute()
    {
        _cache = null;
        return Run(_rows.Tokens, _rows.Length, _rows.Positions(), fullSequence: true);
    }

    private float[] Run(int[] ids, int seq, int[] positions, bool fullSequence = false)
    {
        int rows = _rows.Count, keys = _rows.Length;
        using NeuralModule.ModeScope evalMode = model.EvalScope();
        using TensorScope scope = TensorScope.Begin();
        using Tape.NoGradScope noGrad = Tape.no_grad();
        ManagedTensor? mask = _rows.Mask is float[] maskData ? ManagedTensor.from(maskData, rows, keys) : null;
        ManagedTensor hidden = model.Hidden(ids, rows, seq, mask, positions: positions, cache: fullSequence ? null : _cache);
        int[] last = Enumerable.Range(0, rows).Select(r => (r * seq) + seq - 1).ToArray();
        ManagedTensor logits = model.Logits(Functional.gather_rows(hidden.reshape(rows * seq, model.Config.HiddenSize), last));
        return logits.ToArray();
    }
}
