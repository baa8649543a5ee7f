using System.Numerics;

namespace CalRec.Tensors.Optim;

/// <summary>Parameters that share optimizer settings.</summary>
/// <param name="Parameters">The tensors to update.</param>
/// <param name="WeightDecay">Decoupled weight decay for this group (0 for norms and biases).</param>
public sealed record ParameterGroup(IReadOnlyList<ManagedTensor> Parameters, float WeightDecay);

/// <summary>
/// Adam with decoupled weight decay (Loshchilov and Hutter): <c>p ← p - lr·(m̂/(√v̂ + eps) + wd·p)</c>.
/// Moment buffers are allocated once; <see cref="step"/> allocates nothing.
/// </summary>
public sealed class AdamWOptimizer
{
    private readonly List<(ManagedTensor Param, float Decay, float[] M, float[] V)> _state = [];

    /// <summary>Creates the optimizer over <paramref name="groups"/>.</summary>
    public AdamWOptimizer(IEnumerable<ParameterGroup> groups, float lr = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float eps = 1e-8f)
    {
        foreach (ParameterGroup g in groups)
        {
            foreach (ManagedTensor p in g.Parameters)
            {
                _state.Add((p, g.WeightDecay, new float[p.numel], new float[p.numel]));
            }
        }

        LearningRate = lr;
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = eps;
    }

    /// <summary>
    /// Two groups the usual way: matrices (2+ dimensions) decay by <paramref name="weightDecay"/>, vectors (norm scales,
    /// biases) do not.
    /// </summary>
    public static IEnumerable<ParameterGroup> DecayGroups(IEnumerable<ManagedTensor> parameters, float weightDecay)
    {
        var all = parameters.ToList();
        return
        [
            new ParameterGroup(all.Where(p => p.ndim >= 2).ToList(), weightDecay),
            new ParameterGroup(all.Where(p => p.ndim < 2).ToList(), 0f),
        ];
    }

    /// <summary>Current learning rate (set by a schedule before each step).</summary>
    public float LearningRate { get; set; }

    /// <summary>First-moment decay.</summary>
    public float Beta1 { get; }

    /// <summary>Second-moment decay.</summary>
    public float Beta2 { get; }

    /// <summary>Denominator epsilon.</summary>
    public float Epsilon { get; }

    /// <summary>Number of steps taken (bias correction uses it).</summary>
    public long StepCount { get; private set; }

    /// <summary>Applies one update to every parameter that has a gradient.</summary>
    public void step()
    {
        StepCount++;
        float bc1 = 1f - MathF.Pow(Beta1, StepCount);
        float bc2 = 1f - MathF.Pow(Beta2, StepCount);
        float stepSize = LearningRate / bc1;
        float invSqrtBc2 = 1f / MathF.Sqrt(bc2);
        foreach ((ManagedTensor p, float decay, float[] m, float[] v) in _state)
        {
            if (p.grad is null)
            {
                continue;
            }

            float decayFactor = 1f - (LearningRate * decay);
            ManagedTensor grad = p.grad;
            Threading.ParallelChunks.For(p.numel, (s, n) =>
                Update(p.Data.Slice(s, n), grad.Data.Slice(s, n), m.AsSpan(s, n), v.AsSpan(s, n), decayFactor, stepSize, invSqrtBc2));
        }
    }

    /// <summary>Zeroes every managed parameter's gradient.</summary>
    public void zero_grad()
    {
        foreach ((ManagedTensor p, _, _, _) in _state)
        {
            p.zero_grad();
        }
    }

    /// <summary>Each parameter with its first and second moment buffers (for checkpoints; restore by writing into them).</summary>
    public IEnumerable<(ManagedTensor Parameter, float[] M, float[] V)> State() => _state.Select(s => (s.Param, s.M, s.V));

    /// <summary>Restores the step count (moments are restored through <see cref="State"/>).</summary>
    public void RestoreStepCount(long steps) => StepCount = steps;

    private void Update(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v, float decayFactor, float stepSize, float invSqrtBc2)
    {
        float b1 = Beta1, b2 = Beta2, eps = Epsilon;
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            int w = Vector<float>.Count;
            var vb1 = new Vector<float>(b1);
            var vb2 = new Vector<float>(b2);
            var v1b1 = new Vector<float>(1f - b1);
            var v1b2 = new Vector<float>(1f - b2);
            var vEps = new Vector<float>(eps);
            var vStep = new Vector<float>(stepSize);
            var vInv = new Vector<float>(invSqrtBc2);
            var vDecay = new Vector<float>(decayFactor);
            for (; i <= p.Length - w; i += w)
            {
                var gv = new Vector<float>(g.Slice(i));
                Vector<float> mv = (vb1 * new Vector<float>(m.Slice(i))) + (v1b1 * gv);
                Vector<float> vv = (vb2 * new Vector<float>(v.Slice(i))) + (v1b2 * gv * gv);
                mv.CopyTo(m.Slice(i));
                vv.CopyTo(v.Slice(i));
                Vector<float> denom = (Vector.SquareRoot(vv) * vInv) + vEps;
                Vector<float> pv = (new Vector<float>(p.Slice(i)) * vDecay) - (vStep * mv / denom);
                pv.CopyTo(p.Slice(i));
            }
        }

        for (; i < p.Length; i++)
        {
            m[i] = (b1 * m[i]) + ((1f - b1) * g[i]);
            v[i] = (b2 * v[i]) + ((1f - b2) * g[i] * g[i]);
            float denom = (MathF.Sqrt(v[i]) * invSqrtBc2) + eps;
            p[i] = (p[i] * decayFactor) - (stepSize * m[i] / denom);
        }
    }
}
