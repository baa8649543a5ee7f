using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using CalRec.Tensors.Threading;

namespace CalRec.Tensors.Kernels;

/// <summary>Which micro-kernel the managed GEMM uses on this machine.</summary>
public enum GemmTier
{
    /// <summary>Portable scalar loops.</summary>
    Scalar,

    /// <summary>256-bit vectors with FMA, 6x16 register tile.</summary>
    Vector256,

    /// <summary>512-bit vectors with FMA, 8x32 register tile.</summary>
    Vector512,
}

/// <summary>
/// Single-precision general matrix multiply, C = op(A)·op(B) (+ C when accumulating), row-major.
/// Goto-style: B is packed into KC×NR panels, A into MC×KC blocks of MR-row panels, and a register-tiled
/// micro-kernel streams both. Large products are split across <see cref="WorkerPool.Shared"/> along M or N, each
/// part with its own packing buffers, so parts never synchronize and results do not depend on scheduling.
/// </summary>
public static unsafe class Gemm
{
    private const int KC = 256;
    private const int NC = 1024;
    private const int MaxMC = 128; // the largest MC of any tier: pack buffers are shared by all tiers
    private const int ParallelThreshold = 48 * 48 * 48;

    [ThreadStatic]
    private static PackBuffers? t_buffers;

    [ThreadStatic]
    private static GemmWork? t_work;

    private static GemmTier s_tier = DetectTier();

    /// <summary>The micro-kernel in use. Can be lowered (for tests and benchmarks), not raised past the hardware.</summary>
    public static GemmTier Tier
    {
        get => s_tier;
        set
        {
            if (value > DetectTier())
            {
                throw new PlatformNotSupportedException($"GEMM tier {value} is not supported by this CPU (best is {DetectTier()}).");
            }

            s_tier = value;
        }
    }

    /// <summary>
    /// C[m×n] = op(A)[m×k] · op(B)[k×n], plus C's previous contents when <paramref name="accumulate"/> is set.
    /// Without transposition A is m×k and B is k×n; <paramref name="transA"/> means A is stored k×m, <paramref name="transB"/> means B is stored n×k.
    /// </summary>
    public static void Multiply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k,
        bool transA = false, bool transB = false, bool accumulate = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        if ((long)m * k > a.Length)
        {
            throw new ArgumentException($"gemm: A has {a.Length} elements, needs {(long)m * k} for {m}x{k}.", nameof(a));
        }

        if ((long)k * n > b.Length)
        {
            throw new ArgumentException($"gemm: B has {b.Length} elements, needs {(long)k * n} for {k}x{n}.", nameof(b));
        }

        if ((long)m * n > c.Length)
        {
            throw new ArgumentException($"gemm: C has {c.Length} elements, needs {(long)m * n} for {m}x{n}.", nameof(c));
        }

        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pc = c)
        {
            Sgemm(transA, transB, m, n, k, pa, transA ? m : k, pb, transB ? k : n, pc, n, accumulate, parallel: true);
        }
    }

    /// <summary>Pointer form with explicit leading dimensions. <paramref name="parallel"/> allows use of the worker pool.</summary>
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float* a, int lda, float* b, int ldb,
        float* c, int ldc, bool accumulate, bool parallel)
    {
        if (m == 0 || n == 0)
        {
            return;
        }

        if (k == 0)
        {
            if (!accumulate)
            {
                for (int i = 0; i < m; i++)
                {
                    new Span<float>(c + ((long)i * ldc), n).Clear();
                }
            }

            return;
        }

        WorkerPool pool = WorkerPool.Shared;
        if (!parallel || pool.ThreadCount == 1 || WorkerPool.IsInsideParallelRegion || (long)m * n * k < ParallelThreshold)
        {
            SgemmSerial(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
            return;
        }

        GemmWork work = t_work ??= new GemmWork();
        (int mr, int nr) = TileOf(s_tier);
        bool splitM = m >= n;
        int units = splitM ? (m + mr - 1) / mr : (n + nr - 1) / nr;
        int parts = Math.Min(pool.ThreadCount, units);
        work.Set(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate, splitM, splitM ? mr : nr);
        pool.Run(work, parts);
    }

    /// <summary>Single-threaded blocked GEMM (used inside already-parallel kernels such as attention).</summary>
    public static void SgemmSerial(bool transA, bool transB, int m, int n, int k, float* a, int lda, float* b, int ldb,
        float* c, int ldc, bool accumulate)
    {
        GemmTier tier = s_tier;
        (int mr, int nr) = TileOf(tier);
        int mc = tier == GemmTier.Vector512 ? 128 : tier == GemmTier.Vector256 ? 120 : 64;
        PackBuffers buffers = t_buffers ??= new PackBuffers(MaxMC * KC, NC * KC);

        for (int jc = 0; jc < n; jc += NC)
        {
            int ncb = Math.Min(NC, n - jc);
            for (int pc = 0; pc < k; pc += KC)
            {
                int kcb = Math.Min(KC, k - pc);
                bool acc = accumulate || pc > 0;
                PackB(transB, b, ldb, pc, jc, kcb, ncb, nr, buffers.B);
                for (int ic = 0; ic < m; ic += mc)
                {
                    int mcb = Math.Min(mc, m - ic);
                    PackA(transA, a, lda, ic, pc, mcb, kcb, mr, buffers.A);
                    for (int jr = 0; jr < ncb; jr += nr)
                    {
                        int nrv = Math.Min(nr, ncb - jr);
                        float* pb = buffers.B + ((long)jr * kcb);
                        for (int ir = 0; ir < mcb; ir += mr)
                        {
                            int mrv = Math.Min(mr, mcb - ir);
                            float* pa = buffers.A + ((long)ir * kcb);
                            float* pcTile = c + ((long)(ic + ir) * ldc) + jc + jr;
                            switch (tier)
                            {
                                case GemmTier.Vector512:
                                    Kernel8x32(kcb, pa, pb, pcTile, ldc, acc, mrv, nrv);
                                    break;
                                case GemmTier.Vector256:
                                    Kernel6x16(kcb, pa, pb, pcTile, ldc, acc, mrv, nrv);
                                    break;
                                default:
                                    KernelScalar(kcb, pa, pb, pcTile, ldc, acc, mrv, nrv);
                                    break;
                            }
                        }
                    }
                }
            }
        }
    }

    internal static (int Mr, int Nr) TileOf(GemmTier tier) => tier switch
    {
        GemmTier.Vector512 => (8, 32),
        GemmTier.Vector256 => (6, 16),
        _ => (4, 4),
    };

    private static GemmTier DetectTier()
    {
        if (Vector512.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Avx512F.IsSupported)
        {
            return GemmTier.Vector512;
        }

        if (Vector256.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Fma.IsSupported)
        {
            return GemmTier.Vector256;
        }

        return GemmTier.Scalar;
    }

    /// <summary>Packs rows [i0, i0+mc) × cols [p0, p0+kc) of op(A) as MR-row panels, k-major inside a panel, zero-padded.</summary>
    private static void PackA(bool transA, float* a, int lda, int i0, int p0, int mc, int kc, int mr, float* dst)
    {
        for (int ip = 0; ip < mc; ip += mr)
        {
            int rows = Math.Min(mr, mc - ip);
            float* panel = dst + ((long)ip * kc);
            if (!transA)
            {
                for (int r = 0; r < rows; r++)
                {
                    float* src = a + ((long)(i0 + ip + r) * lda) + p0;
                    for (int p = 0; p < kc; p++)
                    {
                        panel[(p * mr) + r] = src[p];
                    }
                }
            }
            else
            {
                for (int p = 0; p < kc; p++)
                {
                    float* src = a + ((long)(p0 + p) * lda) + i0 + ip;
                    float* d = panel + (p * mr);
                    for (int r = 0; r < rows; r++)
                    {
                        d[r] = src[r];
                    }
                }
            }

            if (rows < mr)
            {
                for (int p = 0; p < kc; p++)
                {
                    for (int r = rows; r < mr; r++)
                    {
                        panel[(p * mr) + r] = 0f;
                    }
                }
            }
        }
    }

    /// <summary>Packs rows [p0, p0+kc) × cols [j0, j0+nc) of op(B) as NR-column panels, k-major inside a panel, zero-padded.</summary>
    private static void PackB(bool transB, float* b, int ldb, int p0, int j0, int kc, int nc, int nr, float* dst)
    {
        for (int jp = 0; jp < nc; jp += nr)
        {
            int cols = Math.Min(nr, nc - jp);
            float* panel = dst + ((long)jp * kc);
            if (!transB)
            {
                for (int p = 0; p < kc; p++)
                {
                    float* src = b + ((long)(p0 + p) * ldb) + j0 + jp;
                    float* d = panel + (p * nr);
                    if (cols == nr)
                    {
                        Unsafe.CopyBlockUnaligned(d, src, (uint)(nr * sizeof(float)));
                    }
                    else
                    {
                        int j = 0;
                        for (; j < cols; j++)
                        {
                            d[j] = src[j];
                        }

                        for (; j < nr; j++)
                        {
                            d[j] = 0f;
                        }
                    }
                }
            }
            else
            {
                for (int j = 0; j < cols; j++)
                {
                    float* src = b + ((long)(j0 + jp + j) * ldb) + p0;
                    for (int p = 0; p < kc; p++)
                    {
                        panel[(p * nr) + j] = src[p];
                    }
                }

                for (int j = cols; j < nr; j++)
                {
                    for (int p = 0; p < kc; p++)
                    {
                        panel[(p * nr) + j] = 0f;
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel8x32(int kc, float* pa, float* pb, float* c, int ldc, bool accumulate, int mrv, int nrv)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector512<float> c20 = default, c21 = default, c30 = default, c31 = default;
        Vector512<float> c40 = default, c41 = default, c50 = default, c51 = default;
        Vector512<float> c60 = default, c61 = default, c70 = default, c71 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector512<float> b0 = Vector512.Load(pb);
            Vector512<float> b1 = Vector512.Load(pb + 16);
            Vector512<float> a;
            a = Vector512.Create(pa[0]); c00 = Vector512.FusedMultiplyAdd(a, b0, c00); c01 = Vector512.FusedMultiplyAdd(a, b1, c01);
            a = Vector512.Create(pa[1]); c10 = Vector512.FusedMultiplyAdd(a, b0, c10); c11 = Vector512.FusedMultiplyAdd(a, b1, c11);
            a = Vector512.Create(pa[2]); c20 = Vector512.FusedMultiplyAdd(a, b0, c20); c21 = Vector512.FusedMultiplyAdd(a, b1, c21);
            a = Vector512.Create(pa[3]); c30 = Vector512.FusedMultiplyAdd(a, b0, c30); c31 = Vector512.FusedMultiplyAdd(a, b1, c31);
            a = Vector512.Create(pa[4]); c40 = Vector512.FusedMultiplyAdd(a, b0, c40); c41 = Vector512.FusedMultiplyAdd(a, b1, c41);
            a = Vector512.Create(pa[5]); c50 = Vector512.FusedMultiplyAdd(a, b0, c50); c51 = Vector512.FusedMultiplyAdd(a, b1, c51);
            a = Vector512.Create(pa[6]); c60 = Vector512.FusedMultiplyAdd(a, b0, c60); c61 = Vector512.FusedMultiplyAdd(a, b1, c61);
            a = Vector512.Create(pa[7]); c70 = Vector512.FusedMultiplyAdd(a, b0, c70); c71 = Vector512.FusedMultiplyAdd(a, b1, c71);
            pa += 8;
            pb += 32;
        }

        if (mrv == 8 && nrv == 32)
        {
            Store512(c, accumulate, c00, c01);
            Store512(c + ldc, accumulate, c10, c11);
            Store512(c + (2 * ldc), accumulate, c20, c21);
            Store512(c + (3 * ldc), accumulate, c30, c31);
            Store512(c + (4 * ldc), accumulate, c40, c41);
            Store512(c + (5 * ldc), accumulate, c50, c51);
            Store512(c + (6 * ldc), accumulate, c60, c61);
            Store512(c + (7 * ldc), accumulate, c70, c71);
            return;
        }

        float* tile = stackalloc float[8 * 32];
        c00.Store(tile); c01.Store(tile + 16); c10.Store(tile + 32); c11.Store(tile + 48);
        c20.Store(tile + 64); c21.Store(tile + 80); c30.Store(tile + 96); c31.Store(tile + 112);
        c40.Store(tile + 128); c41.Store(tile + 144); c50.Store(tile + 160); c51.Store(tile + 176);
        c60.Store(tile + 192); c61.Store(tile + 208); c70.Store(tile + 224); c71.Store(tile + 240);
        WriteEdge(tile, 32, c, ldc, accumulate, mrv, nrv);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store512(float* c, bool accumulate, Vector512<float> v0, Vector512<float> v1)
    {
        if (accumulate)
        {
            v0 += Vector512.Load(c);
            v1 += Vector512.Load(c + 16);
        }

        v0.Store(c);
        v1.Store(c + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel6x16(int kc, float* pa, float* pb, float* c, int ldc, bool accumulate, int mrv, int nrv)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector256<float> b0 = Vector256.Load(pb);
            Vector256<float> b1 = Vector256.Load(pb + 8);
            Vector256<float> a;
            a = Vector256.Create(pa[0]); c00 = Vector256.FusedMultiplyAdd(a, b0, c00); c01 = Vector256.FusedMultiplyAdd(a, b1, c01);
            a = Vector256.Create(pa[1]); c10 = Vector256.FusedMultiplyAdd(a, b0, c10); c11 = Vector256.FusedMultiplyAdd(a, b1, c11);
            a = Vector256.Create(pa[2]); c20 = Vector256.FusedMultiplyAdd(a, b0, c20); c21 = Vector256.FusedMultiplyAdd(a, b1, c21);
            a = Vector256.Create(pa[3]); c30 = Vector256.FusedMultiplyAdd(a, b0, c30); c31 = Vector256.FusedMultiplyAdd(a, b1, c31);
            a = Vector256.Create(pa[4]); c40 = Vector256.FusedMultiplyAdd(a, b0, c40); c41 = Vector256.FusedMultiplyAdd(a, b1, c41);
            a = Vector256.Create(pa[5]); c50 = Vector256.FusedMultiplyAdd(a, b0, c50); c51 = Vector256.FusedMultiplyAdd(a, b1, c51);
            pa += 6;
            pb += 16;
        }

        float* tile = stackalloc float[6 * 16];
        c00.Store(tile); c01.Store(tile + 8); c10.Store(tile + 16); c11.Store(tile + 24);
        c20.Store(tile + 32); c21.Store(tile + 40); c30.Store(tile + 48); c31.Store(tile + 56);
        c40.Store(tile + 64); c41.Store(tile + 72); c50.Store(tile + 80); c51.Store(tile + 88);
        WriteEdge(tile, 16, c, ldc, accumulate, mrv, nrv);
    }

    private static void KernelScalar(int kc, float* pa, float* pb, float* c, int ldc, bool accumulate, int mrv, int nrv)
    {
        float* tile = stackalloc float[16];
        new Span<float>(tile, 16).Clear();
        for (int p = 0; p < kc; p++)
        {
            for (int r = 0; r < 4; r++)
            {
                float av = pa[r];
                for (int j = 0; j < 4; j++)
                {
                    tile[(r * 4) + j] += av * pb[j];
                }
            }

            pa += 4;
            pb += 4;
        }

        WriteEdge(tile, 4, c, ldc, accumulate, mrv, nrv);
    }

    private static void WriteEdge(float* tile, int nr, float* c, int ldc, bool accumulate, int mrv, int nrv)
    {
        for (int r = 0; r < mrv; r++)
        {
            float* crow = c + ((long)r * ldc);
            float* trow = tile + (r * nr);
            if (accumulate)
            {
                for (int j = 0; j < nrv; j++)
                {
                    crow[j] += trow[j];
                }
            }
            else
            {
                for (int j = 0; j < nrv; j++)
                {
                    crow[j] = trow[j];
                }
            }
        }
    }

    private sealed class PackBuffers
    {
        public readonly float* A;
        public readonly float* B;

        public PackBuffers(int aFloats, int bFloats)
        {
            // Lives as long as its (pool) thread; 64-byte aligned for full-width vector loads.
            A = (float*)NativeMemory.AlignedAlloc((nuint)(aFloats * sizeof(float)), 64);
            B = (float*)NativeMemory.AlignedAlloc((nuint)(bFloats * sizeof(float)), 64);
        }
    }

    private sealed class GemmWork : IParallelWork
    {
        private bool _transA, _transB, _accumulate, _splitM;
        private int _m, _n, _k, _lda, _ldb, _ldc, _unit;
        private float* _a, _b, _c;

        public void Set(bool transA, bool transB, int m, int n, int k, float* a, int lda, float* b, int ldb, float* c,
            int ldc, bool accumulate, bool splitM, int unit)
        {
            _transA = transA;
            _transB = transB;
            _m = m;
            _n = n;
            _k = k;
            _a = a;
            _lda = lda;
            _b = b;
            _ldb = ldb;
            _c = c;
            _ldc = ldc;
            _accumulate = accumulate;
            _splitM = splitM;
            _unit = unit;
        }

        public void Execute(int part, int parts)
        {
            int total = _splitM ? _m : _n;
            int units = (total + _unit - 1) / _unit;
            int begin = (int)((long)units * part / parts) * _unit;
            int end = Math.Min(total, (int)((long)units * (part + 1) / parts) * _unit);
            if (begin >= end)
            {
                return;
            }

            if (_splitM)
            {
                float* a = _transA ? _a + begin : _a + ((long)begin * _lda);
                SgemmSerial(_transA, _transB, end - begin, _n, _k, a, _lda, _b, _ldb, _c + ((long)begin * _ldc), _ldc, _accumulate);
            }
            else
            {
                float* b = _transB ? _b + ((long)begin * _ldb) : _b + begin;
                SgemmSerial(_transA, _transB, _m, end - begin, _k, _a, _lda, b, _ldb, _c + begin, _ldc, _accumulate);
            }
        }
    }
}
