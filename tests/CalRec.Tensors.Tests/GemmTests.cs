using CalRec.Tensors.Kernels;
using CalRec.Tensors.Threading;

namespace CalRec.Tensors.Tests;

[TestFixture]
[NonParallelizable]
public class GemmTests
{
    private static readonly int[][] Shapes =
    [
        [1, 1, 1], [1, 7, 33], [7, 1, 33], [33, 257, 7], [257, 33, 1], [64, 64, 64], [257, 257, 257], [5, 300, 513], [130, 1030, 260],
    ];

    private static IEnumerable<TestCaseData> Cases()
    {
        foreach (GemmTier tier in Enum.GetValues<GemmTier>())
        {
            foreach (int[] s in Shapes)
            {
                foreach ((bool ta, bool tb) in new[] { (false, false), (true, false), (false, true), (true, true) })
                {
                    yield return new TestCaseData(tier, s[0], s[1], s[2], ta, tb);
                }
            }
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void MatchesNaiveReference(GemmTier tier, int m, int n, int k, bool transA, bool transB)
    {
        if (tier > Gemm.Tier && !TierSupported(tier))
        {
            Assert.Ignore($"{tier} is not supported by this CPU.");
        }

        GemmTier saved = Gemm.Tier;
        try
        {
            Gemm.Tier = tier;
            var gen = new SeededRandom((ulong)(m * 31 + n * 7 + k));
            float[] a = new float[m * k], b = new float[k * n], c = new float[m * n];
            gen.FillUniform(a, -1, 1);
            gen.FillUniform(b, -1, 1);
            gen.FillUniform(c, -1, 1);
            float[] c0 = (float[])c.Clone();

            Gemm.Multiply(a, b, c, m, n, k, transA, transB, accumulate: true);
            for (int i = 0; i < m; i++)
            {
                for (int j = 0; j < n; j++)
                {
                    double expected = c0[(i * n) + j];
                    for (int p = 0; p < k; p++)
                    {
                        double av = transA ? a[(p * m) + i] : a[(i * k) + p];
                        double bv = transB ? b[(j * k) + p] : b[(p * n) + j];
                        expected += av * bv;
                    }

                    // float32 accumulation over k terms of magnitude <= 1: error grows like sqrt(k)·eps.
                    Assert.That(c[(i * n) + j], Is.EqualTo(expected).Within(1e-5 * Math.Sqrt(k) * 8 + 1e-5), $"C[{i},{j}]");
                }
            }

            float[] fresh = new float[m * n];
            Gemm.Multiply(a, b, fresh, m, n, k, transA, transB, accumulate: false);
            for (int i = 0; i < fresh.Length; i++)
            {
                Assert.That(fresh[i], Is.EqualTo(c[i] - c0[i]).Within(1e-4 * Math.Sqrt(k) + 1e-5));
            }
        }
        finally
        {
            Gemm.Tier = saved;
        }
    }

    [Test]
    public void ParallelAndSerialResultsAreIdentical()
    {
        const int m = 300, n = 200, k = 150;
        var gen = new SeededRandom(3);
        float[] a = new float[m * k], b = new float[k * n], par = new float[m * n], ser = new float[m * n];
        gen.FillUniform(a, -1, 1);
        gen.FillUniform(b, -1, 1);
        Gemm.Multiply(a, b, par, m, n, k);
        WorkerPool saved = WorkerPool.Shared;
        unsafe
        {
            fixed (float* pa = a, pb = b, pc = ser)
            {
                Gemm.SgemmSerial(false, false, m, n, k, pa, k, pb, n, pc, n, accumulate: false);
            }
        }

        Assert.That(par, Is.EqualTo(ser), "each output element is computed by one thread with the same blocking");
    }

    [Test]
    public void RejectsTooSmallBuffers()
    {
        var ex = Assert.Throws<ArgumentException>(() => Gemm.Multiply(new float[5], new float[6], new float[4], 2, 2, 3));
        Assert.That(ex!.Message, Does.Contain("A has 5 elements"));
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(new float[6], new float[5], new float[4], 2, 2, 3));
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(new float[6], new float[6], new float[3], 2, 2, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Multiply(new float[6], new float[6], new float[4], -2, 2, 3));
    }

    [Test]
    public void ZeroInnerDimensionClearsOrKeeps()
    {
        float[] c = [1, 2, 3, 4];
        Gemm.Multiply([], [], c, 2, 2, 0, accumulate: true);
        Assert.That(c, Is.EqualTo(new float[] { 1, 2, 3, 4 }));
        Gemm.Multiply([], [], c, 2, 2, 0);
        Assert.That(c, Is.EqualTo(new float[4]));
    }

    private static bool TierSupported(GemmTier tier)
    {
        try
        {
            GemmTier saved = Gemm.Tier;
            Gemm.Tier = tier;
            Gemm.Tier = saved;
            return true;
        }
        catch (PlatformNotSupportedException)
        {
            return false;
        }
    }
}
