namespace CalRec.Tensors.Optim;

/// <summary>Gradient norm utilities.</summary>
public static class GradientClipping
{
    /// <summary>
    /// Scales all gradients so their global L2 norm is at most <paramref name="maxNorm"/>
    /// (<c>torch.nn.utils.clip_grad_norm_</c>). Returns the norm before clipping.
    /// </summary>
    public static float clip_grad_norm_(IEnumerable<ManagedTensor> parameters, float maxNorm)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxNorm);
        double sq = 0;
        var grads = new List<ManagedTensor>();
        foreach (ManagedTensor p in parameters)
        {
            if (p.grad is { } g)
            {
                grads.Add(g);
                foreach (float x in g.Data)
                {
                    sq += (double)x * x;
                }
            }
        }

        float norm = (float)Math.Sqrt(sq);
        if (norm > maxNorm)
        {
            float scale = maxNorm / (norm + 1e-6f);
            foreach (ManagedTensor g in grads)
            {
                System.Numerics.Tensors.TensorPrimitives.Multiply(g.Data, scale, g.Data);
            }
        }

        return norm;
    }
}
