using CalRec.Tensors.Autograd;
using CalRec.Tensors.Memory;

namespace CalRec.Tensors;

public static partial class Functional
{
    /// <summary>
    /// RMSNorm over the last dimension: <c>y = x / sqrt(mean(x²) + eps) · w</c> (Llama).
    /// </summary>
    public static ManagedTensor rms_norm(ManagedTensor x, ManagedTensor weight, float eps = 1e-6f)
    {
        int d = x.shape[^1];
        CheckNormWeight("rms_norm", x, weight, d);
        int rows = x.numel / d;
        ManagedTensor y = ManagedTensor.Result(x.ShapeArray, clear: false, Tape.ShouldRecord(x, weight));
        float[] rstd = BufferPool.Rent(rows, clear: false);
        ReadOnlySpan<float> xv = x.Data, wv = weight.Data;
        Span<float> yv = y.Data;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> xr = xv.Slice(r * d, d);
            float ms = System.Numerics.Tensors.TensorPrimitives.SumOfSquares(xr) / d;
            float s = 1f / MathF.Sqrt(ms + eps);
            rstd[r] = s;
            Span<float> yr = yv.Slice(r * d, d);
            System.Numerics.Tensors.TensorPrimitives.Multiply(xr, s, yr);
            System.Numerics.Tensors.TensorPrimitives.Multiply(yr, wv, yr);
        }

        if (!y.requires_grad)
        {
            BufferPool.Return(rstd);
            return y;
        }

        Tape.Record(y, () =>
        {
            ReadOnlySpan<float> g = y.grad!.Data, xv2 = x.Data, wv2 = weight.Data;
            Span<float> gx = x.requires_grad ? x.GradSpan() : default;
            Span<float> gw = weight.requires_grad ? weight.GradSpan() : default;
            float[] tmp = BufferPool.Rent(d, clear: false);
            Span<float> t = tmp.AsSpan(0, d);
            for (int r = 0; r < rows; r++)
            {
                ReadOnlySpan<float> xr = xv2.Slice(r * d, d), gr = g.Slice(r * d, d);
                float s = rstd[r];
                if (!gw.IsEmpty)
                {
                    // gw += g * xhat
                    for (int i = 0; i < d; i++)
                    {
                        gw[i] += gr[i] * xr[i] * s;
                    }
                }

                if (!gx.IsEmpty)
                {
                    // dx = s * (g·w - xhat * mean(g·w·xhat))
                    System.Numerics.Tensors.TensorPrimitives.Multiply(gr, wv2, t);
                    float dot = System.Numerics.Tensors.TensorPrimitives.Dot(t, xr) * s / d;
                    Span<float> gxr = gx.Slice(r * d, d);
                    for (int i = 0; i < d; i++)
                    {
                        gxr[i] += s * (t[i] - (xr[i] * s * dot));
                    }
                }
            }

            BufferPool.Return(tmp);
            BufferPool.Return(rstd);
        });
        return y;
    }

    /// <summary>LayerNorm over the last dimension: <c>y = (x - mean) / sqrt(var + eps) · w + b</c>.</summary>
    public static ManagedTensor layer_norm(ManagedTensor x, ManagedTensor weight, ManagedTensor? bias, float eps = 1e-5f)
    {
        int d = x.shape[^1];
        CheckNormWeight("layer_norm", x, weight, d);
        if (bias is not null)
        {
            CheckNormWeight("layer_norm", x, bias, d);
        }

        int rows = x.numel / d;
        ManagedTensor y = ManagedTensor.Result(x.ShapeArray, clear: false, Tape.ShouldRecord(x, weight, bias));
        float[] stats = BufferPool.Rent(2 * rows, clear: false);
        ReadOnlySpan<float> xv = x.Data, wv = weight.Data;
        ReadOnlySpan<float> bv = bias is null ? default : bias.Data;
        Span<float> yv = y.Data;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> xr = xv.Slice(r * d, d);
            float mu = System.Numerics.Tensors.TensorPrimitives.Sum(xr) / d;
            Span<float> yr = yv.Slice(r * d, d);
            System.Numerics.Tensors.TensorPrimitives.Subtract(xr, mu, yr);
            float var = System.Numerics.Tensors.TensorPrimitives.SumOfSquares(yr) / d;
            float s = 1f / MathF.Sqrt(var + eps);
            stats[2 * r] = mu;
            stats[(2 * r) + 1] = s;
            System.Numerics.Tensors.TensorPrimitives.Multiply(yr, s, yr);
            System.Numerics.Tensors.TensorPrimitives.Multiply(yr, wv, yr);
            if (!bv.IsEmpty)
            {
                System.Numerics.Tensors.TensorPrimitives.Add(yr, bv, yr);
            }
        }

        if (!y.requires_grad)
        {
            BufferPool.Return(stats);
            return y;
        }

        Tape.Record(y, () =>
        {
            ReadOnlySpan<float> g = y.grad!.Data, xv2 = x.Data, wv2 = weight.Data;
            Span<float> gx = x.requires_grad ? x.GradSpan() : default;
            Span<float> gw = weight.requires_grad ? weight.GradSpan() : default;
            Span<float> gb = bias is not null && bias.requires_grad ? bias.GradSpan() : default;
            float[] tmp = BufferPool.Rent(2 * d, clear: false);
            Span<float> xhat = tmp.AsSpan(0, d), gwv = tmp.AsSpan(d, d);
            for (int r = 0; r < rows; r++)
            {
                ReadOnlySpan<float> xr = xv2.Slice(r * d, d), gr = g.Slice(r * d, d);
                float mu = stats[2 * r], s = stats[(2 * r) + 1];
                System.Numerics.Tensors.TensorPrimitives.Subtract(xr, mu, xhat);
                System.Numerics.Tensors.TensorPrimitives.Multiply(xhat, s, xhat);
                if (!gw.IsEmpty)
                {
                    System.Numerics.Tensors.TensorPrimitives.FusedMultiplyAdd(gr, xhat, gw, gw);
                }

                if (!gb.IsEmpty)
                {
                    System.Numerics.Tensors.TensorPrimitives.Add(gb, gr, gb);
                }

                if (!gx.IsEmpty)
                {
                    // dx = s * (g·w - mean(g·w) - xhat * mean(g·w·xhat))
                    System.Numerics.Tensors.TensorPrimitives.Multiply(gr, wv2, gwv);
                    float meanG = System.Numerics.Tensors.TensorPrimitives.Sum(gwv) / d;
                    float meanGx = System.Numerics.Tensors.TensorPrimitives.Dot(gwv, xhat) / d;
                    Span<float> gxr = gx.Slice(r * d, d);
                    for (int i = 0; i < d; i++)
                    {
                        gxr[i] += s * (gwv[i] - meanG - (xhat[i] * meanGx));
                    }
                }
            }

            BufferPool.Return(tmp);
            BufferPool.Return(stats);
        });
        return y;
    }

    /// <summary>Divides each row (last dimension) by its L2 norm, clamped below by <paramref name="eps"/>.</summary>
    public static ManagedTensor l2_normalize(ManagedTensor x, float eps = 1e-12f)
    {
        int d = x.shape[^1];
        int rows = x.numel / d;
        ManagedTensor y = ManagedTensor.Result(x.ShapeArray, clear: false, Tape.ShouldRecord(x));
        float[] norms = BufferPool.Rent(rows, clear: false);
        ReadOnlySpan<float> xv = x.Data;
        Span<float> yv = y.Data;
        for (int r = 0; r < rows; r++)
        {
            float nrm = MathF.Max(System.Numerics.Tensors.TensorPrimitives.Norm(xv.Slice(r * d, d)), eps);
            norms[r] = nrm;
            System.Numerics.Tensors.TensorPrimitives.Multiply(xv.Slice(r * d, d), 1f / nrm, yv.Slice(r * d, d));
        }

        if (!y.requires_grad)
        {
            BufferPool.Return(norms);
            return y;
        }

        Tape.Record(y, () =>
        {
            ReadOnlySpan<float> g = y.grad!.Data, yv2 = y.Data;
            Span<float> gx = x.GradSpan();
            for (int r = 0; r < rows; r++)
            {
                ReadOnlySpan<float> gr = g.Slice(r * d, d), yr = yv2.Slice(r * d, d);
                float dot = System.Numerics.Tensors.TensorPrimitives.Dot(gr, yr);
                float inv = 1f / norms[r];
                bool clamped = norms[r] <= eps;
                Span<float> gxr = gx.Slice(r * d, d);
                for (int i = 0; i < d; i++)
                {
                    gxr[i] += clamped ? gr[i] * inv : (gr[i] - (yr[i] * dot)) * inv;
                }
            }

            BufferPool.Return(norms);
        });
        return y;
    }

    private static void CheckNormWeight(string op, ManagedTensor x, ManagedTensor weight, int d)
    {
        if (weight.ndim != 1 || weight.shape[0] != d)
        {
            throw new ArgumentException($"{op}: parameter {ManagedTensor.FormatShape(weight.shape)} does not match input {ManagedTensor.FormatShape(x.shape)} (expected [{d}]).");
        }
    }
}
