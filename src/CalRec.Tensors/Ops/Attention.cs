using CalRec.Tensors.Autograd;
using CalRec.Tensors.Kernels;
using CalRec.Tensors.Threading;

namespace CalRec.Tensors;

public static partial class Functional
{
    /// <summary>
    /// Fused multi-head scaled dot-product attention with grouped-query heads.
    /// <paramref name="q"/> is [B, T, Hq, D]; <paramref name="k"/> and <paramref name="v"/> are [B, S, Hkv, D] with Hq a
    /// multiple of Hkv (query head h reads key/value head h / (Hq/Hkv)). With <paramref name="causal"/>, query t (whose
    /// absolute position is S - T + t) sees keys 0..S-T+t. <paramref name="keyPaddingMask"/> [B, S] marks real keys with
    /// non-zero values; a query that sees no key at all outputs zeros. Result [B, T, Hq, D].
    /// </summary>
    /// <remarks>
    /// The attention probabilities [B, Hq, T, S] are kept for the backward pass. Work is split over (batch, key/value
    /// head) pairs, so the gradients of a shared key/value head are summed by one thread in a fixed order.
    /// </remarks>
    public static ManagedTensor scaled_dot_product_attention(ManagedTensor q, ManagedTensor k, ManagedTensor v, bool causal, ManagedTensor? keyPaddingMask = null)
    {
        if (q.ndim != 4 || k.ndim != 4 || v.ndim != 4 || !k.shape.SequenceEqual(v.shape) || q.shape[0] != k.shape[0] || q.shape[3] != k.shape[3])
        {
            throw new ArgumentException($"attention: expects q [B, T, Hq, D] and k, v [B, S, Hkv, D], got {ManagedTensor.FormatShape(q.shape)}, {ManagedTensor.FormatShape(k.shape)}, {ManagedTensor.FormatShape(v.shape)}.");
        }

        int b = q.shape[0], t = q.shape[1], hq = q.shape[2], d = q.shape[3], s = k.shape[1], hkv = k.shape[2];
        if (hq % hkv != 0)
        {
            throw new ArgumentException($"attention: {hq} query heads are not a multiple of {hkv} key/value heads.");
        }

        if (causal && t > s)
        {
            throw new ArgumentException($"attention: causal attention needs at least as many keys ({s}) as queries ({t}).");
        }

        if (keyPaddingMask is not null && (keyPaddingMask.ndim != 2 || keyPaddingMask.shape[0] != b || keyPaddingMask.shape[1] != s))
        {
            throw new ArgumentException($"attention: key padding mask {ManagedTensor.FormatShape(keyPaddingMask.shape)} does not match [B, S] = [{b}, {s}].");
        }

        bool track = Tape.ShouldRecord(q, k, v);
        ManagedTensor o = ManagedTensor.Result(q.ShapeArray, clear: false, track);
        ManagedTensor probs = ManagedTensor.empty(b, hq, t, s);
        var work = new AttentionWork(q, k, v, o, probs, keyPaddingMask, causal, t, s, s, hq, hkv, d);
        WorkerPool.Shared.Run(work, b * hkv);
        if (!track)
        {
            probs.Dispose();
            return o;
        }

        Tape.Record(o, () =>
        {
            // Create gradient buffers here: parts on other threads only add into them.
            foreach (ManagedTensor input in (ReadOnlySpan<ManagedTensor>)[q, k, v])
            {
                if (input.requires_grad)
                {
                    input.GradTensor();
                }
            }

            work.Backward = true;
            WorkerPool.Shared.Run(work, b * hkv);
            probs.Dispose();
        });
        return o;
    }

    /// <summary>
    /// Inference-only attention over the first <paramref name="kvLength"/> positions of preallocated key/value caches
    /// [B, capacity, Hkv, D] (a KV cache); no autograd record. Same masking rules as
    /// <see cref="scaled_dot_product_attention"/> with S = <paramref name="kvLength"/>.
    /// </summary>
    public static ManagedTensor cached_attention(ManagedTensor q, ManagedTensor kCache, ManagedTensor vCache, int kvLength, ManagedTensor? keyPaddingMask = null)
    {
        if (q.ndim != 4 || kCache.ndim != 4 || !kCache.shape.SequenceEqual(vCache.shape) || q.shape[0] != kCache.shape[0] || q.shape[3] != kCache.shape[3])
        {
            throw new ArgumentException($"cached_attention: expects q [B, T, Hq, D] and caches [B, capacity, Hkv, D], got {ManagedTensor.FormatShape(q.shape)} and {ManagedTensor.FormatShape(kCache.shape)}.");
        }

        int b = q.shape[0], t = q.shape[1], hq = q.shape[2], d = q.shape[3], capacity = kCache.shape[1], hkv = kCache.shape[2];
        if (kvLength < t || kvLength > capacity || hq % hkv != 0)
        {
            throw new ArgumentException($"cached_attention: {t} queries over {kvLength} cached keys (capacity {capacity}), {hq} query heads over {hkv} kv heads.");
        }

        if (keyPaddingMask is not null && (keyPaddingMask.ndim != 2 || keyPaddingMask.shape[0] != b || keyPaddingMask.shape[1] != kvLength))
        {
            throw new ArgumentException($"cached_attention: key padding mask {ManagedTensor.FormatShape(keyPaddingMask.shape)} does not match [B, S] = [{b}, {kvLength}].");
        }

        ManagedTensor o = ManagedTensor.Result(q.ShapeArray, clear: false, track: false);
        using ManagedTensor probs = ManagedTensor.empty(b, hq, t, kvLength);
        WorkerPool.Shared.Run(new AttentionWork(q, kCache, vCache, o, probs, keyPaddingMask, causal: true, t, kvLength, capacity, hq, hkv, d), b * hkv);
        return o;
    }

    private sealed unsafe class AttentionWork(ManagedTensor q, ManagedTensor k, ManagedTensor v, ManagedTensor o, ManagedTensor probs, ManagedTensor? mask, bool causal,
        int t, int s, int kvStride, int hq, int hkv, int d) : IParallelWork
    {
        [ThreadStatic]
        private static float[]? t_scratch;

        public bool Backward;

        public void Execute(int part, int parts)
        {
            int bi = part / hkv, g = part % hkv, rep = hq / hkv;
            int need = (7 * Math.Max(t, s) * d) + (t * s);
            if (t_scratch is null || t_scratch.Length < need)
            {
                t_scratch = new float[need];
            }

            float scale = 1f / MathF.Sqrt(d);
            fixed (float* scratch = t_scratch, pq = q.Buffer, pk = k.Buffer, pv = v.Buffer, pp = probs.Buffer)
            {
                float* qh = scratch, kh = qh + (t * d), vh = kh + (s * d), oh = vh + (s * d);
                float* dq = oh + (t * d), dk = dq + (t * d), dv = dk + (s * d), dp = dv + (s * d);
                Gather(pk, kh, bi, s, hkv, g, d, kvStride);
                Gather(pv, vh, bi, s, hkv, g, d, kvStride);
                if (Backward)
                {
                    new Span<float>(dk, s * d).Clear();
                    new Span<float>(dv, s * d).Clear();
                }

                for (int r = 0; r < rep; r++)
                {
                    int h = (g * rep) + r;
                    float* p = pp + ((((long)bi * hq) + h) * t * s);
                    Gather(pq, qh, bi, t, hq, h, d, t);
                    if (!Backward)
                    {
                        Forward(qh, kh, vh, oh, p, bi, scale);
                        fixed (float* po = o.Buffer)
                        {
                            Scatter(oh, po, bi, t, hq, h, d, accumulate: false);
                        }
                    }
                    else
                    {
                        fixed (float* pgo = o.grad!.Buffer)
                        {
                            Gather(pgo, oh, bi, t, hq, h, d, t);
                        }

                        // dV += Pᵀ·dO ; dP = dO·Vᵀ ; dS = P ⊙ (dP - rowsum(dP ⊙ P)) · scale
                        Gemm.SgemmSerial(true, false, s, d, t, p, s, oh, d, dv, d, accumulate: true);
                        Gemm.SgemmSerial(false, true, t, s, d, oh, d, vh, d, dp, s, accumulate: false);
                        for (int i = 0; i < t; i++)
                        {
                            float* pr = p + ((long)i * s), dr = dp + ((long)i * s);
                            float dot = 0;
                            for (int j = 0; j < s; j++)
                            {
                                dot += pr[j] * dr[j];
                            }

                            for (int j = 0; j < s; j++)
                            {
                                dr[j] = pr[j] * (dr[j] - dot) * scale;
                            }
                        }

                        // dQ = dS·K ; dK += dSᵀ·Q
                        Gemm.SgemmSerial(false, false, t, d, s, dp, s, kh, d, dq, d, accumulate: false);
                        Gemm.SgemmSerial(true, false, s, d, t, dp, s, qh, d, dk, d, accumulate: true);
                        if (q.requires_grad)
                        {
                            fixed (float* gq = q.GradTensor().Buffer)
                            {
                                Scatter(dq, gq, bi, t, hq, h, d, accumulate: true);
                            }
                        }
                    }
                }

                if (Backward)
                {
                    if (k.requires_grad)
                    {
                        fixed (float* gk = k.GradTensor().Buffer)
                        {
                            Scatter(dk, gk, bi, s, hkv, g, d, accumulate: true);
                        }
                    }

                    if (v.requires_grad)
                    {
                        fixed (float* gv = v.GradTensor().Buffer)
                        {
                            Scatter(dv, gv, bi, s, hkv, g, d, accumulate: true);
                        }
                    }
                }
            }
        }

        private void Forward(float* qh, float* kh, float* vh, float* oh, float* p, int bi, float scale)
        {
            Gemm.SgemmSerial(false, true, t, s, d, qh, d, kh, d, p, s, accumulate: false);
            ReadOnlySpan<float> m = mask is null ? default : mask.Data.Slice(bi * s, s);
            int offset = s - t;
            for (int i = 0; i < t; i++)
            {
                float* row = p + ((long)i * s);
                int visible = causal ? offset + i + 1 : s;
                float max = float.NegativeInfinity;
                for (int j = 0; j < s; j++)
                {
                    bool ok = j < visible && (m.IsEmpty || m[j] != 0f);
                    float val = ok ? row[j] * scale : float.NegativeInfinity;
                    row[j] = val;
                    max = MathF.Max(max, val);
                }

                if (float.IsNegativeInfinity(max))
                {
                    new Span<float>(row, s).Clear();
                    continue;
                }

                float sum = 0;
                for (int j = 0; j < s; j++)
                {
                    float e = MathF.Exp(row[j] - max);
                    row[j] = e;
                    sum += e;
                }

                System.Numerics.Tensors.TensorPrimitives.Multiply(new ReadOnlySpan<float>(row, s), 1f / sum, new Span<float>(row, s));
            }

            Gemm.SgemmSerial(false, false, t, d, s, p, s, vh, d, oh, d, accumulate: false);
        }

        private static void Gather(float* src, float* dst, int bi, int len, int heads, int h, int d, int batchStride)
        {
            for (int i = 0; i < len; i++)
            {
                Buffer.MemoryCopy(src + ((((long)bi * batchStride) + i) * heads * d) + ((long)h * d), dst + ((long)i * d), d * sizeof(float), d * sizeof(float));
            }
        }

        private static void Scatter(float* src, float* dst, int bi, int len, int heads, int h, int d, bool accumulate)
        {
            for (int i = 0; i < len; i++)
            {
                float* to = dst + ((((long)bi * len) + i) * heads * d) + ((long)h * d);
                float* from = src + ((long)i * d);
                if (accumulate)
                {
                    System.Numerics.Tensors.TensorPrimitives.Add(new ReadOnlySpan<float>(to, d), new ReadOnlySpan<float>(from, d), new Span<float>(to, d));
                }
                else
                {
                    Buffer.MemoryCopy(from, to, d * sizeof(float), d * sizeof(float));
                }
            }
        }
    }
}
