using CalRec.Models.Generation;
using CalRec.Torch.Decoder;
using static TorchSharp.torch;

namespace CalRec.Torch.Generation;

/// <summary>
/// <see cref="IStepModel"/> over a <see cref="TorchDecoderLM"/> with a KV cache, so that our
/// <see cref="SequenceGenerator"/> (greedy, beam search, sampling, trie-constrained) generates on TorchSharp exactly as
/// it does on our engine: prompts left-padded with a key mask and per-row positions, one token per row and step.
/// </summary>
public sealed class TorchStepModel(TorchDecoderLM model) : IStepModel, IDisposable
{
    private readonly GenerationRows _rows = new();
    private TorchKvCache? _cache;

    /// <inheritdoc />
    public int VocabularySize => model.Config.VocabSize;

    /// <inheritdoc />
    public float[] Start(IReadOnlyList<int[]> prompts)
    {
        _rows.Start(prompts);
        _cache?.Dispose();
        _cache = new TorchKvCache(model.Config.NumLayers);
        return Run(_rows.Tokens, _rows.Length, _rows.Positions());
    }

    /// <inheritdoc />
    public float[] Step(int[] tokens)
    {
        int[] positions = _rows.Append(tokens);
        return Run(tokens, 1, positions);
    }

    /// <inheritdoc />
    public void Reorder(IReadOnlyList<int> sources)
    {
        _rows.Reorder(sources);
        _cache?.Reorder(sources);
    }

    /// <summary>Releases the KV cache.</summary>
    public void Dispose() => _cache?.Dispose();

    private float[] Run(int[] ids, int seq, int[] positions)
    {
        int rows = _rows.Count;
        Device device = model.TokenEmbedding.device;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        bool training = model.training;
        model.eval();
        try
        {
            Tensor input = tensor(ids.Select(i => (long)i).ToArray(), [rows, seq], device: device);
            Tensor pos = tensor(positions.Select(p => (long)p).ToArray(), [rows, seq], device: device);
            Tensor? mask = _rows.Mask is float[] m ? tensor(m, [rows, _rows.Length], device: device) : null;
            Tensor hidden = model.Hidden(input, mask, pos, _cache);
            Tensor logits = model.Logits(hidden[.., -1, ..]).to(float32).cpu().contiguous();
            return logits.data<float>().ToArray();
        }
        finally
        {
            model.train(training);
        }
    }
}
