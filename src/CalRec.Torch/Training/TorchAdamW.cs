using CalRec.Tensors;
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

    /// <summary>
    /// Writes <paramref name="optimizer"/>'s state (each trainable parameter's moments, and the step count) into
    /// <paramref name="target"/>, our optimizer over <paramref name="ours"/> (parameters matched by name with
    /// <paramref name="module"/>'s), so that our checkpoints hold it.
    /// </summary>
    public static void CopyStateTo(AdamW optimizer, torch.nn.Module module, IEnumerable<(string Name, ManagedTensor Parameter)> ours, AdamWOptimizer target)
    {
        ArgumentNullException.ThrowIfNull(target);
        long steps = 0;
        foreach ((AdamW.State state, float[] m, float[] v) in Moments(optimizer, module, ours, target))
        {
            using var scope = torch.NewDisposeScope();
            state.exp_avg.cpu().contiguous().data<float>().CopyTo(m);
            state.exp_avg_sq.cpu().contiguous().data<float>().CopyTo(v);
            steps = Math.Max(steps, state.step);
        }

        target.RestoreStepCount(steps);
    }

    /// <summary>Sets <paramref name="optimizer"/>'s state from <paramref name="source"/> (restored from a checkpoint).</summary>
    public static void LoadStateFrom(AdamW optimizer, torch.nn.Module module, IEnumerable<(string Name, ManagedTensor Parameter)> ours, AdamWOptimizer source)
    {
        ArgumentNullException.ThrowIfNull(source);
        foreach ((AdamW.State state, float[] m, float[] v) in Moments(optimizer, module, ours, source))
        {
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            state.exp_avg.copy_(torch.tensor(m, state.exp_avg.shape));
            state.exp_avg_sq.copy_(torch.tensor(v, state.exp_avg_sq.shape));
            state.step = source.StepCount;
        }
    }

    // Each trainable parameter's state with our optimizer's moment buffers of the parameter of the same name. TorchSharp
    // lists the states in parameter-group order, as the groups hold the parameters.
    private static IEnumerable<(AdamW.State State, float[] M, float[] V)> Moments(AdamW optimizer, torch.nn.Module module, IEnumerable<(string Name, ManagedTensor Parameter)> ours,
        AdamWOptimizer buffers)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(ours);
        var names = module.named_parameters().ToDictionary(p => p.parameter.Handle, p => p.name);
        var byTensor = new Dictionary<ManagedTensor, string>(ReferenceEqualityComparer.Instance);
        foreach ((string name, ManagedTensor p) in ours)
        {
            byTensor[p] = name;
        }

        var moments = buffers.State().ToDictionary(s => byTensor[s.Parameter], s => (s.M, s.V));
        IList<OptimizerState> states = optimizer.state_dict().State;
        int k = 0;
        foreach (Parameter p in optimizer.ParamGroups.Cast<AdamW.ParamGroup>().SelectMany(g => g.Parameters))
        {
            string name = names[p.Handle];
            (float[] m, float[] v) = moments.TryGetValue(name, out var b) ? b
                : throw new InvalidOperationException($"Parameter '{name}' trains on the device but has no moments in our optimizer.");
            yield return ((AdamW.State)states[k++], m, v);
        }
    }
}
