using CalRec.Tensors.Autograd;
using CalRec.Tensors.Kernels;

namespace CalRec.Tensors;

public sealed partial class ManagedTensor
{
    /// <summary>
    /// Matrix product op(this)·op(other). With a 2-D <paramref name="other"/>, every leading dimension of this tensor
    /// is folded into the rows (<c>[..., M, K]·[K, N] → [..., M, N]</c>). With equal leading (batch) dimensions on both,
    /// each batch is multiplied separately. <paramref name="transA"/>/<paramref name="transB"/> transpose the last two
    /// dimensions without copying.
    /// </summary>
    public unsafe ManagedTensor matmul(ManagedTensor other, bool transA = false, bool transB = false)
    {
        ManagedTensor a = this, b = other;
        if (a.ndim < 2 || b.ndim < 2)
        {
            throw new ArgumentException($"matmul: both operands need at least 2 dimensions, got {FormatShape(a._shape)} and {FormatShape(b._shape)}.");
        }

        int batch;
        int m, k, n, kb;
        int[] outShape;
        if (b.ndim == 2)
        {
            if (transA && a.ndim > 2)
            {
                throw new ArgumentException($"matmul: transA with a 2-D right operand needs a 2-D left operand, got {FormatShape(a._shape)}.");
            }

            batch = 1;
            m = transA ? a._shape[1] : a.numel / a._shape[^1];
            k = transA ? a._shape[0] : a._shape[^1];
            outShape = (int[])a._shape.Clone();
            if (transA)
            {
                outShape[0] = m;
            }
        }
        else
        {
            if (a.ndim != b.ndim || !a._shape.AsSpan(0, a.ndim - 2).SequenceEqual(b._shape.AsSpan(0, b.ndim - 2)))
            {
                throw new ArgumentException($"matmul: batch dimensions of {FormatShape(a._shape)} and {FormatShape(b._shape)} differ.");
            }

            batch = a.numel / (a._shape[^1] * a._shape[^2]);
            m = transA ? a._shape[^1] : a._shape[^2];
            k = transA ? a._shape[^2] : a._shape[^1];
            outShape = (int[])a._shape.Clone();
            outShape[^2] = m;
        }

        n = transB ? b._shape[^2] : b._shape[^1];
        kb = transB ? b._shape[^1] : b._shape[^2];
        if (k != kb)
        {
            throw new ArgumentException($"matmul: inner dimensions differ: {FormatShape(a._shape)}{(transA ? "^T" : string.Empty)} x {FormatShape(b._shape)}{(transB ? "^T" : string.Empty)} ({k} vs {kb}).");
        }

        outShape[^1] = n;
        ManagedTensor y = Result(outShape, clear: false, Tape.ShouldRecord(a, b));
        int lda = transA ? m : k, ldb = transB ? k : n;
        long strideA = b.ndim == 2 ? 0 : (long)m * k, strideB = b.ndim == 2 ? 0 : (long)k * n, strideC = (long)m * n;
        fixed (float* pa = a.Buffer, pb = b.Buffer, pc = y.Buffer)
        {
            for (int i = 0; i < batch; i++)
            {
                Gemm.Sgemm(transA, transB, m, n, k, pa + (i * strideA), lda, pb + (i * strideB), ldb, pc + (i * strideC), n, accumulate: false, parallel: true);
            }
        }

        if (y.requires_grad)
        {
            Tape.Record(y, () => MatMulBackward(a, b, y, transA, transB, batch, m, n, k, strideA, strideB, strideC));
        }

        return y;
    }

    private static unsafe void MatMulBackward(ManagedTensor a, ManagedTensor b, ManagedTensor y, bool transA, bool transB, int batch, int m, int n, int k,
        long strideA, long strideB, long strideC)
    {
        int lda = transA ? m : k, ldb = transB ? k : n;
        fixed (float* pa = a.Buffer, pb = b.Buffer, pg = y.grad!.Buffer)
        {
            if (a.requires_grad)
            {
                fixed (float* ga = a.GradTensor().Buffer)
                {
                    for (int i = 0; i < batch; i++)
                    {
                        float* dC = pg + (i * strideC), B = pb + (i * strideB), dA = ga + (i * strideA);
                        if (!transA)
                        {
                            // dA[m,k] += dC[m,n] · op(B)^T
                            Gemm.Sgemm(false, !transB, m, k, n, dC, n, B, ldb, dA, lda, accumulate: true, parallel: true);
                        }
                        else
                        {
                            // dA[k,m] += op(B)[k,n] · dC^T
                            Gemm.Sgemm(transB, true, k, m, n, B, ldb, dC, n, dA, lda, accumulate: true, parallel: true);
                        }
                    }
                }
            }

            if (b.requires_grad)
            {
                fixed (float* gb = b.GradTensor().Buffer)
                {
                    for (int i = 0; i < batch; i++)
                    {
                        float* dC = pg + (i * strideC), A = pa + (i * strideA), dB = gb + (i * strideB);
                        if (!transB)
                        {
                            // dB[k,n] += op(A)^T · dC
                            Gemm.Sgemm(!transA, false, k, n, m, A, lda, dC, n, dB, ldb, accumulate: true, parallel: true);
                        }
                        else
                        {
                            // dB[n,k] += dC^T · op(A)
                            Gemm.Sgemm(true, transA, n, k, m, dC, n, A, lda, dB, ldb, accumulate: true, parallel: true);
                        }
                    }
                }
            }
        }
    }
}

public static partial class Functional
{
    /// <summary>
    /// Affine map <c>y = x·Wᵀ + b</c> with PyTorch's weight layout: <paramref name="weight"/> is [out, in],
    /// <paramref name="x"/> is [..., in], the result [..., out].
    /// </summary>
    public static unsafe ManagedTensor linear(ManagedTensor x, ManagedTensor weight, ManagedTensor? bias = null)
    {
        if (weight.ndim != 2 || x.shape[^1] != weight.shape[1])
        {
            throw new ArgumentException($"linear: input {ManagedTensor.FormatShape(x.shape)} does not match weight {ManagedTensor.FormatShape(weight.shape)} (expected [..., {(weight.ndim == 2 ? weight.shape[1] : -1)}]).");
        }

        int outF = weight.shape[0], inF = weight.shape[1];
        if (bias is not null && (bias.ndim != 1 || bias.shape[0] != outF))
        {
            throw new ArgumentException($"linear: bias {ManagedTensor.FormatShape(bias.shape)} does not match weight {ManagedTensor.FormatShape(weight.shape)}.");
        }

        int rows = x.numel / inF;
        int[] outShape = x.ShapeArray.ToArray();
        outShape[^1] = outF;
        ManagedTensor y = ManagedTensor.Result(outShape, clear: false, Tape.ShouldRecord(x, weight, bias));
        fixed (float* px = x.Buffer, pw = weight.Buffer, py = y.Buffer)
        {
            Gemm.Sgemm(false, true, rows, outF, inF, px, inF, pw, inF, py, outF, accumulate: false, parallel: true);
        }

        if (bias is not null)
        {
            ReadOnlySpan<float> bv = bias.Data;
            Span<float> yv = y.Data;
            for (int r = 0; r < rows; r++)
            {
                System.Numerics.Tensors.TensorPrimitives.Add(yv.Slice(r * outF, outF), bv, yv.Slice(r * outF, outF));
            }
        }

        if (y.requires_grad)
        {
            Tape.Record(y, () =>
            {
                fixed (float* px = x.Buffer, pw = weight.Buffer, pg = y.grad!.Buffer)
                {
                    if (x.requires_grad)
                    {
                        fixed (float* gx = x.GradTensor().Buffer)
                        {
                            Gemm.Sgemm(false, false, rows, inF, outF, pg, outF, pw, inF, gx, inF, accumulate: true, parallel: true);
                        }
                    }

                    if (weight.requires_grad)
                    {
                        fixed (float* gw = weight.GradTensor().Buffer)
                        {
                            Gemm.Sgemm(true, false, outF, inF, rows, pg, outF, px, inF, gw, inF, accumulate: true, parallel: true);
                        }
                    }
                }

                if (bias is not null && bias.requires_grad)
                {
                    Span<float> gb = bias.GradSpan();
                    ReadOnlySpan<float> g = y.grad!.Data;
                    for (int r = 0; r < rows; r++)
                    {
                        System.Numerics.Tensors.TensorPrimitives.Add(gb, g.Slice(r * outF, outF), gb);
                    }
                }
            });
        }

        return y;
    }
}
