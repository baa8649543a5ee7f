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
    private const double InvSqrt2 = 0.70710678118654752440;
    private const double InvSqrt2Pi = 0.39894228040143267794;
    private static readonly double[] ErfA = [3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02, 3.20937758913846947e03, 1.85777706184603153e-1];
    private static readonly double[] ErfB = [2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03, 2.84423683343917062e03];
    private static readonly double[] ErfC = [5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01, 2.98635138197400131e02, 8.81952221241769090e02,
        1.71204761263407058e03, 2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8];
    private static readonly double[] ErfD = [1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02, 1.62138957456669019e03, 3.29079923573345963e03,
        4.36261909014324716e03, 3.43936767414372164e03, 1.23033935480374942e03];
    private static readonly double[] ErfP = [3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1, 1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2];
    private static readonly double[] ErfQ = [2.56852019228982242e00, 1.87295284992346725e00, 5.27905102951428412e-1, 6.05183413124413191e-2, 2.33520497626869185e-3];

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

    /// <summary>y = 0.5·x·(1 + erf(x/√2)) (the exact GELU, BERT's <c>gelu</c>).</summary>
    public static void GeluErfForward(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++)
        {
            double v = x[i];
            y[i] = (float)(0.5 * v * (1 + Erf(v * InvSqrt2)));
        }
    }

    /// <summary>gx += g·(Φ(x) + x·φ(x)), Φ the standard normal CDF and φ its density.</summary>
    public static void GeluErfBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> g, Span<float> gx)
    {
        for (int i = 0; i < x.Length; i++)
        {
            double v = x[i];
            double cdf = 0.5 * (1 + Erf(v * InvSqrt2));
            double pdf = Math.Exp(-0.5 * v * v) * InvSqrt2Pi;
            gx[i] += (float)(g[i] * (cdf + (v * pdf)));
        }
    }

    /// <summary>
    /// The error function in double precision: W. J. Cody's rational Chebyshev approximations (Math. Comp. 23, 1969),
    /// relative error below 1e-15 (.NET has no <c>Math.Erf</c>).
    /// </summary>
    internal static double Erf(double x)
    {
        double a = Math.Abs(x), r;
        if (a <= 0.5)
        {
            double z = x * x, num = ErfA[4] * z, den = z;
            for (int i = 0; i < 3; i++)
            {
                num = (num + ErfA[i]) * z;
                den = (den + ErfB[i]) * z;
            }

            return x * (num + ErfA[3]) / (den + ErfB[3]);
        }

        if (a <= 4)
        {
            double num = ErfC[8] * a, den = a;
            for (int i = 0; i < 7; i++)
            {
                num = (num + ErfC[i]) * a;
                den = (den + ErfD[i]) * a;
            }

            r = 1 - (Math.Exp(-a * a) * (num + ErfC[7]) / (den + ErfD[7]));
        }
        else
        {
            double z = 1 / (a * a), num = ErfP[5] * z, den = z;
            for (int i = 0; i < 4; i++)
            {
                num = (num + ErfP[i]) * z;
                den = (den + ErfQ[i]) * z;
            }

            double tail = (0.56418958354775628695 - (z * (num + ErfP[4]) / (den + ErfQ[4]))) / a;
            r = 1 - (Math.Exp(-a * a) * tail);
        }

        return x < 0 ? -r : r;
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
