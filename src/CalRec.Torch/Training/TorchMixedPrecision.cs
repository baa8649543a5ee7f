using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CalRec.Torch.Training;

/// <summary>The precision of training on TorchSharp.</summary>
public enum TrainingPrecision
{
    /// <summary>Everything in float32.</summary>
    Float32,

    /// <summary>
    /// bfloat16 mixed precision: the decoder's forward and backward passes run on a bfloat16 copy of the weights, the
    /// losses in float32, and the optimizer steps float32 master weights (TorchSharp 0.107 has no autocast; this is its
    /// effect, written out). SASRec, CALRec's engine and causal-LM pretraining have it.
    /// </summary>
    BFloat16,
}

/// <summary>
/// bfloat16 mixed precision without autocast: a working copy of the master (float32) network in bfloat16
/// runs forward and backward; its gradients become the master's (in float32) before clipping and the optimizer step, and
/// the updated master weights are copied back (rounded) before the next step. The master stays what checkpoints,
/// validation and the weights read back see, so nothing else changes with the precision. Memory: the weights once more
/// in half size; activations in half size.
/// </summary>
internal sealed class TorchMixedPrecision : IDisposable
{
    private readonly List<(Parameter Master, Parameter Working)> _pairs;

    /// <summary>Pairs <paramref name="master"/> with <paramref name="working"/> (the same architecture and adapters), which becomes bfloat16.</summary>
    public TorchMixedPrecision(nn.Module master, nn.Module working)
    {
        Working = working;
        working.to(ScalarType.BFloat16);
        var copies = working.named_parameters().ToDictionary(p => p.name, p => p.parameter, StringComparer.Ordinal);
        _pairs = master.named_parameters().Select(p => (p.parameter, copies[p.name])).ToList();
        PullWeights();
    }

    /// <summary>The bfloat16 copy that runs forward and backward.</summary>
    public nn.Module Working { get; }

    /// <summary>Copies the master weights into the working copy (rounded to bfloat16) and clears its gradients.</summary>
    public void PullWeights()
    {
        using (no_grad())
        {
            foreach ((Parameter master, Parameter working) in _pairs)
            {
                working.copy_(master);
            }
        }

        Working.zero_grad();
    }

    /// <summary>Sets the master's gradients to the working copy's, in float32.</summary>
    public void PushGradients()
    {
        foreach ((Parameter master, Parameter working) in _pairs)
        {
            if (!master.requires_grad)
            {
                continue;
            }

            // Each wrapper is released here (the gradient itself lives on in the master), not left to the finalizer.
            using Tensor? grad = working.grad;
            if (grad is not null)
            {
                using Tensor full = grad.to(ScalarType.Float32);
                master.grad = full;
            }
        }
    }

    /// <summary>Releases the working copy.</summary>
    public void Dispose() => Working.Dispose();
}
