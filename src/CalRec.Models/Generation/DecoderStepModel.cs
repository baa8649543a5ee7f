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
    private KvCache? _cache;
    private List<List<int>> _tokens = [];
    private List<List<float>> _mask = [];
    private List<int> _nextPosition = [];

    /// <inheritdoc />
    public int VocabularySize => model.Config.VocabSize;

    /// <inheritdoc />
    public float[] Start(IReadOnlyList<int[]> prompts)
    {
        if (prompts.Count == 0 || prompts.Any(p => p.Length == 0))
        {
            throw new ArgumentException("Every prompt needs at least one token.");
        }

        int longest = prompts.Max(p => p.Length);
        _tokens = [];
        _mask = [];
        _nextPosition = [];
        foreach (int[] p in prompts)
        {
            int pad = longest - p.Length;
            _tokens.Add([.. Enumerable.Repeat(0, pad), .. p]);
            _mask.Add([.. Enumerable.Repeat(0f, pad), .. Enumerable.Repeat(1f, p.Length)]);
            _nextPosition.Add(p.Length);
        }

        _cache?.Dispose();
        _cache = useKvCache ? new KvCache(model.Config, prompts.Count, Math.Min(maxTokens, model.Config.MaxPositions)) : null;
        return useKvCache ? Run(_tokens.SelectMany(t => t).ToArray(), longest, Positions(longest)) : Recompute();
    }

    /// <inheritdoc />
    public float[] Step(int[] tokens)
    {
        if (tokens.Length != _tokens.Count)
        {
            throw new ArgumentException($"Step: {tokens.Length} tokens for {_tokens.Count} rows.");
        }

        for (int r = 0; r < tokens.Length; r++)
        {
            _tokens[r].Add(tokens[r]);
            _mask[r].Add(1f);
        }

        if (!useKvCache)
        {
            for (int r = 0; r < tokens.Length; r++)
            {
                _nextPosition[r]++;
            }

            return Recompute();
        }

        int[] positions = [.. _nextPosition];
        for (int r = 0; r < tokens.Length; r++)
        {
            _nextPosition[r]++;
        }

        return Run(tokens, 1, positions);
    }

    /// <inheritdoc />
    public void Reorder(IReadOnlyList<int> sources)
    {
        _tokens = sources.Select(s => new List<int>(_tokens[s])).ToList();
        _mask = sources.Select(s => new List<float>(_mask[s])).ToList();
        _nextPosition = sources.Select(s => _nextPosition[s]).ToList();
        _cache?.Reorder(sources);
    }

    /// <summary>Frees the cache.</summary>
    public void Dispose() => _cache?.Dispose();

    private int[] Positions(int length)
    {
        int[] pos = new int[_tokens.Count * length];
        for (int r = 0; r < _tokens.Count; r++)
        {
            int pad = length - _nextPosition[r];
            for (int t = 0; t < length; t++)
            {
                pos[(r * length) + t] = Math.Max(0, t - pad);
            }
        }

        return pos;
    }

    private float[] Recompute()
    {
        int length = _tokens[0].Count;
        _cache = null;
        return Run(_tokens.SelectMany(t => t).ToArray(), length, Positions(length), fullSequence: true);
    }

    private float[] Run(int[] ids, int seq, int[] positions, bool fullSequence = false)
    {
        int rows = _tokens.Count, keys = _mask[0].Count;
        using NeuralModule.ModeScope evalMode = model.EvalScope();
        using TensorScope scope = TensorScope.Begin();
        using Tape.NoGradScope noGrad = Tape.no_grad();
        float[] maskData = _mask.SelectMany(m => m).ToArray();
        ManagedTensor? mask = maskData.Contains(0f) ? ManagedTensor.from(maskData, rows, keys) : null;
        ManagedTensor hidden = model.Hidden(ids, rows, seq, mask, positions: positions, cache: fullSequence ? null : _cache);
        int[] last = Enumerable.Range(0, rows).Select(r => (r * seq) + seq - 1).ToArray();
        ManagedTensor logits = model.Logits(Functional.gather_rows(hidden.reshape(rows * seq, model.Config.HiddenSize), last));
        return logits.ToArray();
    }
}
