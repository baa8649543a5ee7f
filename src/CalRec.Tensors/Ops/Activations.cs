using System.Numerics.Tensors;
using CalRec.Tensors.Autograd;
using CalRec.Tensors.Kernels;
using CalRec.Tensors.Memory;
using CalRec.Tensors.Threading;

namespace CalRec.Tensors;

public static partial class Functional
{
    private delegate void ElementwiseKernel(ReadOnlySpan<float> x, Span<float> y);

    private delegate void ElementwiseGradientKernel(ReadOnlySpan<float> x, ReadOnlySpan<float> g, Span<float> gx);

    /// <summary>GELU, tanh approximation (GPT-2's <c>gelu_new</c>).</summary>
    public static ManagedTensor gelu(ManagedTensor x) => Elementwise(x, ActivationKernels.GeluForward, ActivationKernels.GeluBackward);

    /// <summary>GELU, exact form <c>0.5·x·(1 + erf(x/√2))</c> (BERT's <c>gelu</c>, PyTorch's <c>approximate='none'</c>).</summary>
    public static ManagedTensor gelu_erf(ManagedTensor x) => Elementwise(x, ActivationKernels.GeluErfForward, ActivationKernels.GeluErfBackward);

    /// <summary>ReLU: <c>max(x, 0)</c> (gradient 0 at 0).</summary>
    public static ManagedTensor relu(ManagedTensor x)
    {
        ManagedTensor y = ManagedTensor.Result(x.ShapeArray, clear: false, Tape.ShouldRecord(x));
        TensorPrimitives.Max(x.Data, 0f, y.Data);
        if (y.requires_grad)
        {
            Tape.Record(y, () =>
            {
                ReadOnlySpan<float> g = y.grad!.Data, xs = x.Data;
                Span<float> gx = x.GradSpan();
                for (int i = 0; i < xs.Length; i++)
                {
                    if (xs[i] > 0f)
                    {
                        gx[i] += g[i];
                    }
                }
            });
        }

        return y;
    }

    /// <summary>SiLU (swish): <c>x·σ(x)</c>.</summary>
    public static ManagedTensor silu(ManagedTensor x) => Elementwise(x, static (xs, ys) =>
    {
        TensorPrimitives.Sigmoid(xs, ys);
        TensorPrimitives.Multiply(ys, xs, ys);
    }, ActivationKernels.SiluBackward);

    /// <summary>SwiGLU gate: <c>silu(gate) · up</c>, fused (Llama's MLP).</summary>
    public static ManagedTensor swiglu(ManagedTensor gate, ManagedTensor up)
    {
        if (!gate.shape.SequenceEqual(up.shape))
        {
            throw new ArgumentException($"swiglu: gate {ManagedTensor.FormatShape(gate.shape)} and up {ManagedTensor.FormatShape(up.shape)} differ.");
        }

        ManagedTensor y = ManagedTensor.Result(gate.ShapeArray, clear: false, Tape.ShouldRecord(gate, up));
        ParallelChunks.For(gate.numel, (s, n) =>
        {
            Span<float> ys = y.Data.Slice(s, n);
            ReadOnlySpan<float> gs = gate.Data.Slice(s, n);
            TensorPrimitives.Sigmoid(gs, ys);
            TensorPrimitives.Multiply(ys, gs, ys);
            TensorPrimitives.Multiply(ys, up.Data.Slice(s, n), ys);
        });
        if (y.requires_grad)
        {
            Tape.Record(y, () =>
            {
                bool needGate = gate.requires_grad, needUp = up.requires_grad;
                if (needGate)
                {
                    gate.GradTensor();
                }

                if (needUp)
                {
                    up.GradTensor();
                }

                ParallelChunks.For(gate.numel, (s, n) => ActivationKernels.SwiGluBackward(gate.Data.Slice(s, n), up.Data.Slice(s, n), y.grad!.Data.Slice(s, n),
                    needGate ? gate.grad!.Data.Slice(s, n) : default, needUp ? up.grad!.Data.Slice(s, n) : default));
            });
        }

        return y;
    }

    /// <summary>Softmax over the last dimension.</summary>
    public static ManagedTensor softmax(ManagedTensor x)
    {
        int d = x.shape[^1];
        int rows = x.numel / d;
        ManagedTensor y = ManagedTensor.Result(x.ShapeArray, clear: false, Tape.ShouldRecord(x));
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
    public static ManagedTensor log_softmax(ManagedTensor x)
    {
        int d = x.shape[^1];
        int rows = x.numel / d;
        ManagedTensor y = ManagedTensor.Result(x.ShapeArray, clear: false, Tape.ShouldRecord(x));
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
    public static ManagedTensor dropout(ManagedTensor x, float p, bool training, SeededRandom generator)
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
        // Two keep/drop decisions per 64 random bits: element dropped when its 32-bit half is below p·2³².
        uint threshold = (uint)Math.Min(uint.MaxValue, (double)p * 4294967296.0);
        int count = x.numel, i = 0;
        for (; i + 1 < count; i += 2)
        {
            ulong bits = generator.NextUInt64();
            mask[i] = (uint)bits >= threshold ? keep : 0f;
            mask[i + 1] = (uint)(bits >> 32) >= threshold ? keep : 0f;
        }

        if (i < count)
        {
            mask[i] = (uint)generator.NextUInt64() >= threshold ? keep : 0f;
        }

        ManagedTensor y = ManagedTensor.Result(x.ShapeArray, clear: false, Tape.ShouldRecord(x));
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

    /// <summary>log Σ exp(x), computed stably; -∞ for an all -∞ input.</summary>
    public static float LogSumExp(ReadOnlySpan<float> x)
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

    /// <summary>y = f(x) element by element in parallel chunks; the backward kernel adds g·f'(x) into x's gradient.</summary>
    private static ManagedTensor Elementwise(ManagedTensor x, ElementwiseKernel forward, ElementwiseGradientKernel backward)
    {
        ManagedTensor y = ManagedTensor.Result(x.ShapeArray, clear: false, Tape.ShouldRecord(x));
        ParallelChunks.For(x.numel, (s, n) => forward(x.Data.Slice(s, n), y.Data.Slice(s, n)));
        if (y.requires_grad)
        {
            Tape.Record(y, () =>
            {
                x.GradTensor();
                ParallelChunks.For(x.numel, (s, n) => backward(x.Data.Slice(s, n), y.grad!.Data.Slice(s, n), x.grad!.Data.Slice(s, n)));
            });
        }

        return y;
    }
}
