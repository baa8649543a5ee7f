using CalRec.Models.Embeddings;
using CalRec.Recommenders.CalRec;
using CalRec.Torch.Decoder;
using static TorchSharp.torch;

namespace CalRec.Torch.CalRec;

/// <summary>
/// <see cref="ICalRecTowers"/> on TorchSharp: the towers' forward pass on the device the decoder lives on, in evaluation
/// mode and without gradients, pooled as our engine pools (the training engine's validations run through it).
/// </summary>
/// <param name="model">The decoder (its training mode is restored after each call).</param>
public sealed class TorchCalRecTowers(TorchDecoderLM model) : ICalRecTowers
{
    /// <inheritdoc />
    public int Dimension => model.Config.HiddenSize;

    /// <inheritdoc />
    public float[] Encode(int[] ids, float[] mask, int rows, int length, int[] last, Pooling pooling, float[]? lastStates = null)
    {
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentNullException.ThrowIfNull(mask);
        ArgumentNullException.ThrowIfNull(last);
        bool training = model.training;
        model.eval();
        try
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            Device device = model.TokenEmbedding.device;
            Tensor m = tensor(mask, [rows, length], device: device);
            Tensor hidden = model.Hidden(tensor(ids.Select(i => (long)i).ToArray(), [rows, length], device: device), m);
            Tensor lastState = hidden[arange(rows, device: device), tensor(last.Select(i => (long)i).ToArray(), [rows], device: device)];
            if (lastStates is not null)
            {
                lastState.cpu().contiguous().data<float>().CopyTo(lastStates);
            }

            Tensor pooled = pooling == Pooling.Mean ? (hidden * m.unsqueeze(-1)).sum(1) / m.sum(1, keepdim: true).clamp_min(1) : lastState;
            return pooled.cpu().contiguous().data<float>().ToArray();
        }
        finally
        {
            model.train(training);
        }
    }

    /// <inheritdoc />
    public float[] OutputRows(int first, int count)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return model.OutputWeight.narrow(0, first, count).to(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
    }
}
