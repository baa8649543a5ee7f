using System.Runtime.InteropServices;

namespace CalRec.Bench;

/// <summary>
/// Optional OpenBLAS <c>cblas_sgemm</c>, loaded at run time when the shared library is installed
/// (Debian: libopenblas0-pthread). Used to benchmark the managed GEMM against; never required.
/// </summary>
public static unsafe class OpenBlas
{
    private static readonly delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> s_sgemm = Load();

    /// <summary>Whether the library was found.</summary>
    public static bool IsAvailable => s_sgemm != null;

    /// <summary>Row-major C = op(A)·op(B) (+ C when accumulating), same contract as <see cref="Gemm.Multiply"/>.</summary>
    public static void Multiply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k,
        bool transA = false, bool transB = false, bool accumulate = false)
    {
        if (!IsAvailable)
        {
            throw new PlatformNotSupportedException("OpenBLAS (libopenblas.so.0) is not installed.");
        }

        if ((long)m * k > a.Length || (long)k * n > b.Length || (long)m * n > c.Length)
        {
            throw new ArgumentException($"sgemm: buffers too small for {m}x{n}x{k}.");
        }

        const int RowMajor = 101, NoTrans = 111, Trans = 112;
        fixed (float* pa = a, pb = b, pc = c)
        {
            s_sgemm(RowMajor, transA ? Trans : NoTrans, transB ? Trans : NoTrans, m, n, k, 1f, pa, transA ? m : k, pb, transB ? k : n,
                accumulate ? 1f : 0f, pc, n);
        }
    }

    private static delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> Load()
    {
        foreach (string name in (string[])["libopenblas.so.0", "libopenblas.so", "openblas"])
        {
            if (NativeLibrary.TryLoad(name, out IntPtr lib) && NativeLibrary.TryGetExport(lib, "cblas_sgemm", out IntPtr fn))
            {
                return (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)fn;
            }
        }

        return null;
    }
}
