using CalRec.Models.Decoder;
using CalRec.Models.Embeddings;
using CalRec.Tensors;
using CalRec.Tensors.Autograd;
using CalRec.Tensors.Memory;
using CalRec.Tensors.NN;
using F = CalRec.Tensors.Functional;

namespace CalRec.Recommenders.CalRec;

/// <summary>
/// The forward pass behind CALRec's two towers for scoring (validation, the fitted model's item index, serving): the
/// shared decoder's final hidden states of padded token rows, pooled, without gradients. Our engine's is
/// <see cref="ManagedTowers"/>; a training engine on another device (<see cref="ICalRecEngine.Towers"/>) provides its
/// own, so that validation runs where the weights are.
/// </summary>
public interface ICalRecTowers
{
    /// <summary>Hidden size (the towers' vector length).</summary>
    int Dimension { get; }

    /// <summary>
    /// Pooled final hidden states [rows, <see cref="Dimension"/>] (not normalized) of <paramref name="ids"/> [rows ·
    /// length] with key mask <paramref name="mask"/> (1 = token, 0 = padding after it); <paramref name="last"/> is each
    /// row's last token. When <paramref name="lastStates"/> is given it receives the hidden states at
    /// <paramref name="last"/> [rows, <see cref="Dimension"/>] whatever the pooling.
    /// </summary>
    float[] Encode(int[] ids, float[] mask, int rows, int length, int[] last, Pooling pooling, float[]? lastStates = null);

    /// <summary>Rows <paramref name="first"/> .. + <paramref name="count"/> of the output projection [count, <see cref="Dimension"/>].</summary>
    float[] OutputRows(int first, int count);
}

/// <summary><see cref="ICalRecTowers"/> on our engine: a <see cref="DecoderLM"/> in evaluation mode.</summary>
/// <param name="model">The shared decoder.</param>
public sealed class ManagedTowers(DecoderLM model) : ICalRecTowers
{
    /// <inheritdoc />
    public int Dimension => model.Config.HiddenSize;

    /// <inheritdoc />
    public float[] Encode(int[] ids, float[] mask, int rows, int length, int[] last, Pooling pooling, float[]? lastStates = null)
    {
        using NeuralModule.ModeScope eval = model.EvalScope();
        using TensorScope scope = TensorScope.Begin();
        using Tape.NoGradScope noGrad = Tape.no_grad();
        ManagedTensor m = ManagedTensor.from(mask, rows, length);
        ManagedTensor hidden = model.Hidden(ids, rows, length, m);
        ManagedTensor lastState = F.last_token_pool(hidden, last);
        if (lastStates is not null)
        {
            lastState.Data.CopyTo(lastStates);
        }

        return (pooling == Pooling.Mean ? F.masked_mean_pool(hidden, m) : lastState).ToArray();
    }

    /// <inheritdoc />
    public float[] OutputRows(int first, int count) => model.OutputWeight.Data.Slice(first * Dimension, count * Dimension).ToArray();
}
