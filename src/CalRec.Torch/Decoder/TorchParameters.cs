using CalRec.Tensors;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CalRec.Torch.Decoder;

/// <summary>Copies parameters between our engine and a TorchSharp module by name, checking every name and shape both ways.</summary>
internal static class TorchParameters
{
    /// <summary>Our parameters into <paramref name="target"/>'s.</summary>
    internal static void CopyInto(IEnumerable<(string Name, ManagedTensor Parameter)> source, nn.Module target)
    {
        var pairs = Pairs(source, target);
        using var noGrad = no_grad();
        foreach ((ManagedTensor ours, Parameter theirs) in pairs)
        {
            using Tensor value = tensor(ours.Data.ToArray(), Dims(ours), device: theirs.device);
            theirs.copy_(value);
        }
    }

    /// <summary><paramref name="source"/>'s parameters into ours.</summary>
    internal static void CopyInto(nn.Module source, IEnumerable<(string Name, ManagedTensor Parameter)> target)
    {
        foreach ((ManagedTensor ours, Parameter theirs) in Pairs(target, source))
        {
            using Tensor value = theirs.detach().cpu().contiguous();
            value.data<float>().CopyTo(ours.Data);
        }
    }

    /// <summary>One TorchSharp module's parameters into another's with the same names and shapes (any devices and precisions).</summary>
    internal static void CopyBetween(nn.Module source, nn.Module target)
    {
        var targets = target.named_parameters().ToDictionary(p => p.name, p => p.parameter, StringComparer.Ordinal);
        using var noGrad = no_grad();
        foreach ((string name, Parameter p) in source.named_parameters())
        {
            if (!targets.Remove(name, out Parameter? t) || !t.shape.SequenceEqual(p.shape))
            {
                throw new InvalidOperationException($"The target module has no parameter '{name}' of shape [{string.Join(", ", p.shape)}].");
            }

            t.copy_(p);
        }

        if (targets.Count > 0)
        {
            throw new InvalidOperationException($"The source module has no parameter '{targets.Keys.First()}'.");
        }
    }

    private static List<(ManagedTensor Ours, Parameter Theirs)> Pairs(IEnumerable<(string Name, ManagedTensor Parameter)> ours, nn.Module module)
    {
        var theirs = module.named_parameters().ToDictionary(p => p.name, p => p.parameter, StringComparer.Ordinal);
        var pairs = new List<(ManagedTensor, Parameter)>();
        foreach ((string name, ManagedTensor p) in ours)
        {
            if (!theirs.Remove(name, out Parameter? t))
            {
                throw new InvalidOperationException($"TorchSharp model has no parameter '{name}'.");
            }

            if (!t.shape.SequenceEqual(Dims(p)))
            {
                throw new InvalidOperationException($"'{name}': shape [{string.Join(", ", t.shape)}] in TorchSharp, [{string.Join(", ", Dims(p))}] in our engine.");
            }

            pairs.Add((p, t));
        }

        return theirs.Count == 0 ? pairs : throw new InvalidOperationException($"TorchSharp model has a parameter our engine lacks: '{theirs.Keys.First()}'.");
    }

    private static long[] Dims(ManagedTensor p)
    {
        long[] dims = new long[p.shape.Length];
        for (int i = 0; i < dims.Length; i++)
        {
            dims[i] = p.shape[i];
        }

        return dims;
    }
}
