using System.Diagnostics;
using CalRec.Tensors;
using CalRec.Tensors.Kernels;
using CalRec.Tensors.Threading;

namespace CalRec.Bench;

/// <summary>Square SGEMM throughput of the managed kernel, and of OpenBLAS when installed.</summary>
internal static class GemmBenchmark
{
    public static IEnumerable<BenchResult> Run(IReadOnlyList<int> sizes, double secondsPerCase = 1.0)
    {
        int threads = WorkerPool.Shared.ThreadCount;
        foreach (int n in sizes)
        {
            var g = new SeededRandom((ulong)n);
            float[] a = new float[n * n], b = new float[n * n], c = new float[n * n];
            g.FillUniform(a, -1, 1);
            g.FillUniform(b, -1, 1);
            yield return Measure($"gemm-managed-{Gemm.Tier}", n, threads, secondsPerCase, () => Gemm.Multiply(a, b, c, n, n, n));
            if (OpenBlas.IsAvailable)
            {
                yield return Measure("gemm-openblas", n, threads, secondsPerCase, () => OpenBlas.Multiply(a, b, c, n, n, n));
            }
        }
    }

    private static BenchResult Measure(string name, int n, int threads, double seconds, Action run)
    {
        run();
        var sw = Stopwatch.StartNew();
        int reps = 0;
        while (sw.Elapsed.TotalSeconds < seconds || reps < 3)
        {
            run();
            reps++;
        }

        double s = sw.Elapsed.TotalSeconds;
        return new BenchResult
        {
            Name = name,
            Config = $"n={n}",
            Threads = threads,
            Gflops = Math.Round(2.0 * n * n * n * reps / s / 1e9, 1),
            Seconds = Math.Round(s / reps, 6),
        };
    }
}
