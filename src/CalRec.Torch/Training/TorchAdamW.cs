using CalRec.Tensors.Optim;
using TorchSharp;
using TorchSharp.Modules;

namespace CalRec.Torch.Training;

/// <summary>
/// AdamW on TorchSharp configured exactly like our <see cref="AdamWOptimizer"/> with
/// <see cref="AdamWOptimizer.DecayGroups"/>: matrices (2+ dimensions) decay by the weight decay, vectors (norm scales,
/// biases) do not. The weight decay is always passed explicitly: TorchSharp's <c>AdamW</c> defaults it to 0 where
/// PyTorch uses 0.01.
/// </summary>
public static class TorchAdamW
{
    /// <summary>The optimizer over <paramref name="module"/>'s parameters.</summary>
    public static AdamW Create(torch.nn.Module module, double learningRate, double weightDecay, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8)
    {
        ArgumentNullException.ThrowIfNull(module);
        // Frozen parameters (a LoRA run's base weights) are not the optimizer's.
        var parameters = module.parameters().Where(p => p.requires_grad).ToList();
        var groups = new[]
        {
            new AdamW.ParamGroup(parameters.Where(p => p.dim() >= 2), learningRate, beta1, beta2, eps, weightDecay, false, false),
            new AdamW.ParamGroup(parameters.Where(p => p.dim() < 2), learningRate, beta1, beta2, eps, 0.0, false, false),
        };
        return torch.optim.AdamW(groups, learningRate, beta1, beta2, eps, weightDecay);
    }
}
