using System.Numerics.Tensors;
using CalRec.Tensors.Autograd;
using CalRec.Tensors.Memory;

namespace CalRec.Tensors;

public static partial class Functional
{
    private const float GeluC = 0.7978845608028654f; // sqrt(2 / pi)
    private const float GeluA = 0.044715f;

    /// <summary>GELU, tanh approximation (GPT-2's <c>gelu_new</c>).</summary>
    public static Tensor gelu(Tensor x)
    {
        Tensor y = Tensor.Result(x.ShapeArray, clear: false, Tape.ShouldRecord(x));
        ReadOnlySpan<float> xv = x.Data;
        Span<float> yv = y.Data;
        for (int i = 0; i < xv.Length; i++)
        {
            float v = xv[i];
            yv[i] = 0.5f * v * (1f + MathF.Tanh(GeluC * (v + (GeluA * v * v * v))));
        }

        if (y.requires_grad)
        {
            Tape.Record(y, () =>
            {
                ReadOnlySpan<float> g = y.grad!.Data, xs = x.Data;
                Span<float> gx = x.GradSpan();
                for (int i = 0; i < xs.Length; i++)
                {
                    float v = xs[i];
                    float th = MathF.Tanh(GeluC * (v + (GeluA * v * v * v)));
                    float dth = (1f - (th * th)) * GeluC * (1f + (3f * GeluA * v * v));
                    gx[i] += g[i] * ((0.5f * (1f + th)) + (0.5f * v * dth));
                }
            });
        }

        return y;
    }

    /// <summary>SiLU (swish): <c>x·σ(x)</c>.</summary>
    public static Tensor silu(Tensor x)
    {
        Tensor y = Tensor.Result(x.ShapeArray, clear: false, Tape.ShouldRecord(x));
        ReadOnlySpan<float> xv = x.Data;
        Span<float> yv = y.Data;
        TensorPrimitives.Sigmoid(xv, yv);
        TensorPrimitives.Multiply(yv, xv, yv);
        if (y.requires_grad)
        {
            Tape.Record(y, () =>
            {
                ReadOnlySpan<float> g = y.grad!.Data, xs = x.Data;
                Span<float> gx = x.GradSpan();
                for (int i = 0; i < xs.Length; i++)
                {
                    float s = 1f / (1f + MathF.Exp(-xs[i]));
                    gx[i] += g[i] * s * (1f + (xs[i] * (1f - s)));
                }
            });
        }

        return y;
    }

    /// <summary>SwiGLU gate: <c>silu(gate) · up</c>, fused (Llama's MLP).</summary>
    public static Tensor swiglu(Tensor gate, Tensor up)
    {
        if (!gate.shape.SequenceEqual(up.shape))
        {
            throw new ArgumentException($"swiglu: gate {Tensor.FormatShape(gate.shape)} and up {Tensor.FormatShape(up.shape)} differ.");
        }

        Tensor y = Tensor.Result(gate.ShapeArray, clear: false, Tape.ShouldRecord(gate, up));
        ReadOnlySpan<float> gv = gate.Data, uv = up.Data;
        Span<float> yv = y.Data;
        TensorPrimitives.Sigmoid(gv, yv);
        TensorPrimitives.Multiply(yv, gv, yv);
        TensorPrimitives.Multiply(yv, uv, yv);
        if (y.requires_grad)
        {
            Tape.Record(y, () =>
            {
                ReadOnlySpan<float> g = y.grad!.Data, a = gate.Data, u = up.Data;
                Span<float> ga = gate.requires_grad ? gate.GradSpan() : default;
                Span<float> gu = up.requires_grad ? up.GradSpan() : default;
                for (int i = 0; i < a.Length; i++)
                {
                    float s = 1f / (1f + MathF.Exp(-a[i]));
                    float silu = a[i] * s;
                    if (!gu.IsEmpty)
                    {
                        gu[i] += g[i] * silu;
                    }

                    if (!ga.IsEmpty)
                    {
                        ga[i] += g[i] * u[i] * s * (1f + (a[i] * (1f - s)));
                    }
                }
            });
        }

        return y;
    }

    /// <summary>Softmax over the last dimension.</summary>
    public static Tensor softmax(Tensor x)
    {
        int d = x.shape[^1];
        int rows = x.numel / d;
        Tensor y = Tensor.Result(x.ShapeArray, clear: false, Tape.ShouldRecord(x));
        ReadOnlySpan<float> xv = x.Data;
        Span<float> yv = y.Data;
        for (int r = 0; r < rows; r++)
        {
            TensorPrimitives.SoftMax(xv.Slice(r * d, d), yv.Slice(r * d, d));
        }

        if (y.requires_grad)
        {
            Tape.Record(y, () =>
            {
                ReadOnlySpan<float> g = y.grad!.Data, p = y.Data;
                Span<float> gx = x.GradSpan();
                for (int r = 0; r < rows; r++)
                {
                    ReadOnlySpan<float> gr = g.Slice(r * d, d), pr = p.Slice(r * d, d);
                    float dot = TensorPrimitives.Dot(gr, pr);
                    Span<float> gxr = gx.Slice(r * d, d);
                    for (int i = 0; i < d; i++)
                    {
                        gxr[i] += pr[i] * (gr[i] - dot);
                    }
                }
            });
        }

        return y;
    }

    /// <summary>Log-softmax over the last dimension.</summary>
    public static Tensor log_softmax(Tensor x)
    {
        int d = x.shape[^1];
        int rows = x.numel / d;
        Tensor y = Tensor.Result(x.ShapeArray, clear: false, Tape.ShouldRecord(x));
        ReadOnlySpan<float> xv = x.Data;
        Span<float> yv = y.Data;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> xr = xv.Slice(r * d, d);
            float lse = LogSumExp(xr);
            TensorPrimitives.Subtract(xr, lse, yv.Slice(r * d, d));
        }

        if (y.requires_grad)
        {
            Tape.Record(y, () =>
            {
                ReadOnlySpan<float> g = y.grad!.Data, lp = y.Data;
                Span<float> gx = x.GradSpan();
                for (int r = 0; r < rows; r++)
                {
                    ReadOnlySpan<float> gr = g.Slice(r * d, d), lr = lp.Slice(r * d, d);
                    float sum = TensorPrimitives.Sum(gr);
                    Span<float> gxr = gx.Slice(r * d, d);
                    for (int i = 0; i < d; i++)
                    {
                        gxr[i] += gr[i] - (MathF.Exp(lr[i]) * sum);
                    }
                }
            });
        }

        return y;
    }

    /// <summary>
    /// Inverted dropout: zeroes each element with probability <paramref name="p"/> and scales the rest by 1/(1-p).
    /// Identity when not <paramref name="training"/> or p = 0. The mask comes from <paramref name="generator"/>, so runs repeat.
    /// </summary>
    public static Tensor dropout(Tensor x, float p, bool training, Generator generator)
    {
        if (p is < 0f or >= 1f)
        {
            throw new ArgumentOutOfRangeException(nameof(p), $"dropout: probability must be in [0, 1), got {p}.");
        }

        if (!training || p == 0f)
        {
            return x;
        }

        float keep = 1f / (1f - p);
        float[] mask = BufferPool.Rent(x.numel, clear: false);
        for (int i = 0; i < x.numel; i++)
        {
            mask[i] = generator.NextFloat() >= p ? keep : 0f;
        }

        Tensor y = Tensor.Result(x.ShapeArray, clear: false, Tape.ShouldRecord(x));
        TensorPrimitives.Multiply(x.Data, mask.AsSpan(0, x.numel), y.Data);
        if (!y.requires_grad)
        {
            BufferPool.Return(mask);
            return y;
        }

        Tape.Record(y, () =>
        {
            TensorPrimitives.FusedMultiplyAdd(y.grad!.Data, mask.AsSpan(0, x.numel), x.GradSpan(), x.GradSpan());
            BufferPool.Return(mask);
        });
        return y;
    }

    internal static float LogSumExp(ReadOnlySpan<float> x)
    {
        float max = TensorPrimitives.Max(x);
        if (float.IsNegativeInfinity(max))
        {
            return max;
        }

        double sum = 0;
        for (int i = 0; i < x.Length; i++)
        {
            sum += MathF.Exp(x[i] - max);
        }

        return max + (float)Math.Log(sum);
    }
}
