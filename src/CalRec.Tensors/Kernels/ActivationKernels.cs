using System.Numerics.Tensors;

namespace CalRec.Tensors.Kernels;

/// <summary>
/// Vectorized activation forward and backward kernels. Work in blocks small enough for a stack buffer so the
/// intermediate passes stay in L1, and every backward kernel adds into its gradient.
/// </summary>
internal static class ActivationKernels
{
    private const int Block = 1024;
    private const float GeluC = 0.7978845608028654f; // sqrt(2 / pi)
    private const float GeluA = 0.044715f;

    /// <summary>y = 0.5·x·(1 + tanh(c·(x + a·x³))).</summary>
    public static void GeluForward(ReadOnlySpan<float> x, Span<float> y)
    {
        Span<float> th = stackalloc float[Block];
        for (int i = 0; i < x.Length; i += Block)
        {
            int n = Math.Min(Block, x.Length - i);
            ReadOnlySpan<float> xs = x.Slice(i, n);
            Span<float> t = th[..n];
            GeluTanh(xs, t);
            TensorPrimitives.Add(t, 1f, t);
            TensorPrimitives.Multiply(t, xs, t);
            TensorPrimitives.Multiply(t, 0.5f, y.Slice(i, n));
        }
    }

    /// <summary>gx += g·(0.5·(1 + th) + 0.5·x·(1 - th²)·c·(1 + 3a·x²)).</summary>
    public static void GeluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> g, Span<float> gx)
    {
        Span<float> buf = stackalloc float[3 * Block];
        for (int i = 0; i < x.Length; i += Block)
        {
            int n = Math.Min(Block, x.Length - i);
            ReadOnlySpan<float> xs = x.Slice(i, n);
            Span<float> th = buf[..n], d = buf.Slice(Block, n), t2 = buf.Slice(2 * Block, n);
            GeluTanh(xs, th);
            // d = 0.5·x·c·(1 + 3a·x²)·(1 - th²) + 0.5·(1 + th)
            TensorPrimitives.Multiply(xs, xs, d);
            TensorPrimitives.Multiply(d, 3f * GeluA * GeluC, d);
            TensorPrimitives.Add(d, GeluC, d);
            TensorPrimitives.Multiply(d, xs, d);
            TensorPrimitives.Multiply(d, 0.5f, d);
            TensorPrimitives.Multiply(th, th, t2);
            TensorPrimitives.Subtract(1f, t2, t2);
            TensorPrimitives.Multiply(d, t2, d);
            TensorPrimitives.MultiplyAdd(th, 0.5f, d, d);
            TensorPrimitives.Add(d, 0.5f, d);

            Span<float> gxs = gx.Slice(i, n);
            TensorPrimitives.FusedMultiplyAdd(g.Slice(i, n), d, gxs, gxs);
        }
    }

    /// <summary>gx += g·σ(x)·(1 + x·(1 - σ(x))) (derivative of x·σ(x)).</summary>
    public static void SiluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> g, Span<float> gx)
    {
        Span<float> buf = stackalloc float[2 * Block];
        for (int i = 0; i < x.Length; i += Block)
        {
            int n = Math.Min(Block, x.Length - i);
            ReadOnlySpan<float> xs = x.Slice(i, n);
            Span<float> d = buf[..n];
            SiluDerivative(xs, d, buf.Slice(Block, n));
            Span<float> gxs = gx.Slice(i, n);
            TensorPrimitives.FusedMultiplyAdd(g.Slice(i, n), d, gxs, gxs);
        }
    }

    /// <summary>For y = silu(a)·u: ga += g·u·silu'(a), gu += g·silu(a). Either gradient span may be empty.</summary>
    public static void SwiGluBackward(ReadOnlySpan<float> a, ReadOnlySpan<float> u, ReadOnlySpan<float> g, Span<float> ga, Span<float> gu)
    {
        Span<float> buf = stackalloc float[2 * Block];
        for (int i = 0; i < a.Length; i += Block)
        {
            int n = Math.Min(Block, a.Length - i);
            ReadOnlySpan<float> xs = a.Slice(i, n), gs = g.Slice(i, n);
            Span<float> s = buf[..n], d = buf.Slice(Block, n);
            if (!gu.IsEmpty)
            {
                TensorPrimitives.Sigmoid(xs, s);
                TensorPrimitives.Multiply(s, xs, s);
                TensorPrimitives.FusedMultiplyAdd(gs, s, gu.Slice(i, n), gu.Slice(i, n));
            }

            if (!ga.IsEmpty)
            {
                SiluDerivative(xs, d, s);
                TensorPrimitives.Multiply(d, u.Slice(i, n), d);
                TensorPrimitives.FusedMultiplyAdd(gs, d, ga.Slice(i, n), ga.Slice(i, n));
            }
        }
    }

    private static void GeluTanh(ReadOnlySpan<float> x, Span<float> th)
    {
        // th = tanh(c·x·(1 + a·x²))
        TensorPrimitives.Multiply(x, x, th);
        TensorPrimitives.Multiply(th, GeluA * GeluC, th);
        TensorPrimitives.Add(th, GeluC, th);
        TensorPrimitives.Multiply(th, x, th);
        TensorPrimitives.Tanh(th, th);
    }

    private static void SiluDerivative(ReadOnlySpan<float> x, Span<float> d, Span<float> scratch)
    {
        // σ(x)·(1 + x·(1 - σ(x)))
        TensorPrimitives.Sigmoid(x, d);
        TensorPrimitives.Subtract(1f, d, scratch);
        TensorPrimitives.Multiply(scratch, x, scratch);
        TensorPrimitives.Add(scratch, 1f, scratch);
        TensorPrimitives.Multiply(d, scratch, d);
    }
}
