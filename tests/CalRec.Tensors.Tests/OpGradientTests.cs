using CalRec.Tensors.Memory;
using static CalRec.Tensors.Tests.GradCheck;
using F = CalRec.Tensors.Functional;

namespace CalRec.Tensors.Tests;

[TestFixture]
public class OpGradientTests
{
    private TensorScope? _scope;

    [SetUp]
    public void SetUp() => _scope = TensorScope.Begin();

    [TearDown]
    public void TearDown() => _scope?.Dispose();

    [Test]
    public void AddSameShape() => Check(x => x[0].add(x[1]), [Rand(1, 3, 5), Rand(2, 3, 5)]);

    [Test]
    public void AddRowBroadcastBias() => Check(x => x[0].add(x[1]), [Rand(1, 2, 3, 5), Rand(2, 5)]);

    [Test]
    public void SubGeneralBroadcast() => Check(x => x[0].sub(x[1]), [Rand(1, 2, 1, 3), Rand(2, 4, 1)]);

    [Test]
    public void MulBroadcastBothSides() => Check(x => x[0].mul(x[1]), [Rand(1, 3, 1), Rand(2, 1, 4)]);

    [Test]
    public void MulTrailingDimensionBroadcast() => Check(x => x[0].mul(x[1]), [Rand(1, 2, 3, 4), Rand(2, 2, 3, 1)]);

    [Test]
    public void DivByPositive() => Check(x => x[0].div(x[1].mul(x[1]).add(1f)), [Rand(1, 2, 7), Rand(2, 7)]);

    [Test]
    public void ScaleExpLogSumMean() => Check(x => x[0].mul(0.5f).exp().add(1f).log().mean().add(x[0].sum()), [Rand(1, 3, 4)]);

    [TestCase(false, false)]
    [TestCase(true, false)]
    [TestCase(false, true)]
    [TestCase(true, true)]
    public void MatMul2D(bool transA, bool transB)
    {
        ManagedTensor a = transA ? Rand(1, 7, 5) : Rand(1, 5, 7);
        ManagedTensor b = transB ? Rand(2, 3, 7) : Rand(2, 7, 3);
        Check(x => x[0].matmul(x[1], transA, transB), [a, b]);
    }

    [Test]
    public void MatMulFoldsLeadingDims() => Check(x => x[0].matmul(x[1]), [Rand(1, 2, 3, 5), Rand(2, 5, 4)]);

    [TestCase(false, true)]
    [TestCase(true, false)]
    public void BatchedMatMul(bool transA, bool transB)
    {
        ManagedTensor a = transA ? Rand(1, 2, 5, 3) : Rand(1, 2, 3, 5);
        ManagedTensor b = transB ? Rand(2, 2, 4, 5) : Rand(2, 2, 5, 4);
        Check(x => x[0].matmul(x[1], transA, transB), [a, b]);
    }

    [Test]
    public void LinearWithBias() => Check(x => F.linear(x[0], x[1], x[2]), [Rand(1, 2, 3, 6), Rand(2, 4, 6), Rand(3, 4)]);

    [Test]
    public void EmbeddingScatterAddsRepeatedIds()
    {
        int[] ids = [3, 1, 3, 0, 3, 2];
        Check(x => F.embedding(ids, [2, 3], x[0]), [Rand(1, 4, 5)]);
    }

    [Test]
    public void RmsNorm() => Check(x => F.rms_norm(x[0], x[1]), [Rand(1, 3, 6), Rand(2, 6)]);

    [Test]
    public void LayerNorm() => Check(x => F.layer_norm(x[0], x[1], x[2]), [Rand(1, 3, 6), Rand(2, 6), Rand(3, 6)]);

    [Test]
    public void Gelu() => Check(x => F.gelu(x[0].mul(2f)), [Rand(1, 4, 5)]);

    [Test]
    public void GeluErf() => Check(x => F.gelu_erf(x[0].mul(2f)), [Rand(1, 4, 5)]);

    [Test]
    public void ExactGeluMatchesTheErfFormulaOfAReferenceLibrary()
    {
        // Reference values from CPython's math.erf (C99 erf).
        double[] xs = [0.1, 0.5, 1.0, 2.5, 4.5, -1.5];
        double[] erf = [0.1124629160182849, 0.5204998778130465, 0.8427007929497149, 0.999593047982555, 0.9999999998033839, -0.9661051464753108];
        for (int i = 0; i < xs.Length; i++)
        {
            Assert.That(Kernels.ActivationKernels.Erf(xs[i]), Is.EqualTo(erf[i]).Within(1e-15), $"erf({xs[i]})");
        }

        ManagedTensor y = F.gelu_erf(ManagedTensor.from([-3f, -0.7f, 0f, 0.3f, 1.2f, 4f], 6));
        Assert.That(y.ToArray(), Is.EqualTo(new[] { -0.00404969409489031f, -0.1693745565561511f, 0f, 0.18537342665668577f, 1.06191639573395f, 3.9998733150326675f }).Within(1e-6f));
    }

    [Test]
    public void ReluAwayFromTheKink() => Check(x => F.relu(x[0].mul(x[0]).add(-0.3f)), [Rand(1, 4, 5)]);

    [Test]
    public void Silu() => Check(x => F.silu(x[0].mul(2f)), [Rand(1, 4, 5)]);

    [Test]
    public void SwiGlu() => Check(x => F.swiglu(x[0], x[1]), [Rand(1, 3, 5), Rand(2, 3, 5)]);

    [Test]
    public void Softmax() => Check(x => F.softmax(x[0].mul(2f)), [Rand(1, 3, 7)]);

    [Test]
    public void LogSoftmax() => Check(x => F.log_softmax(x[0].mul(2f)), [Rand(1, 3, 7)]);

    [Test]
    public void DropoutSameMaskEachCall() => Check(x => F.dropout(x[0], 0.3f, training: true, new SeededRandom(5)), [Rand(1, 4, 6)]);

    [Test]
    public void RopeWithOffsetAndExplicitPositions()
    {
        Check(x => F.rope(x[0], 10000f, startPosition: 3), [Rand(1, 2, 3, 2, 8)]);
        int[] positions = [0, 5, 9, 2, 7, 1];
        Check(x => F.rope(x[0], 500f, positions: positions), [Rand(2, 2, 3, 2, 8)]);
    }

    [Test]
    public void CausalAttentionWithPaddingAndGroupedHeads()
    {
        using ManagedTensor mask = ManagedTensor.from([1, 1, 1, 1, 1, 1, 1, 0, 0, 0], 2, 5);
        Check(x => F.scaled_dot_product_attention(x[0], x[1], x[2], causal: true, mask),
            [Rand(1, 2, 5, 4, 3), Rand(2, 2, 5, 2, 3), Rand(3, 2, 5, 2, 3)]);
    }

    [Test]
    public void NonCausalAttentionWithMoreKeysThanQueries() =>
        Check(x => F.scaled_dot_product_attention(x[0], x[1], x[2], causal: false),
            [Rand(1, 1, 2, 2, 4), Rand(2, 1, 6, 1, 4), Rand(3, 1, 6, 1, 4)]);

    [Test]
    public void CausalAttentionAsKvCacheStep() =>
        Check(x => F.scaled_dot_product_attention(x[0], x[1], x[2], causal: true),
            [Rand(1, 1, 2, 2, 4), Rand(2, 1, 5, 2, 4), Rand(3, 1, 5, 2, 4)]);

    [Test]
    public void CrossEntropyWithIgnoreAndSmoothing()
    {
        int[] targets = [2, F.IgnoreIndex, 0, 4];
        Check(x => F.cross_entropy(x[0].mul(3f), targets, labelSmoothing: 0.1f), [Rand(1, 4, 5)]);
        Check(x => F.cross_entropy(x[0].mul(3f), targets), [Rand(2, 4, 5)]);
    }

    [Test]
    public void MaskedMeanAndLastTokenPooling()
    {
        using ManagedTensor mask = ManagedTensor.from([1, 1, 0, 1, 0, 0], 2, 3);
        Check(x => F.masked_mean_pool(x[0], mask), [Rand(1, 2, 3, 4)]);
        Check(x => F.last_token_pool(x[0], [1, 2]), [Rand(2, 2, 3, 4)]);
    }

    [Test]
    public void L2Normalize() => Check(x => F.l2_normalize(x[0]), [Rand(1, 3, 5)]);

    [Test]
    public void InfoNceWithDuplicatesAndSymmetric()
    {
        Check(x => F.info_nce(F.l2_normalize(x[0]), F.l2_normalize(x[1]), 0.5f, groupIds: [4, 7, 4, 1]), [Rand(1, 4, 6), Rand(2, 4, 6)]);
        Check(x => F.info_nce(x[0], x[1], 2f, symmetric: true), [Rand(3, 3, 5), Rand(4, 3, 5)]);
        Check(x => F.info_nce(F.l2_normalize(x[0]), F.l2_normalize(x[1]), 0.5f, groupIds: [4, 7, 4, 1], keyLogitOffsets: [0.3f, -1.2f, 0.3f, 2f]), [Rand(1, 4, 6), Rand(2, 4, 6)]);
    }

    [Test]
    public void InfoNceKeyLogitOffsetsShiftEachKeysColumn()
    {
        ManagedTensor q = Rand(1, 3, 4), k = Rand(2, 3, 4);
        int[] groups = [2, 5, 2];
        float[] offsets = [0.7f, -1.5f, 0.7f];
        float loss = F.info_nce(q, k, 0.25f, groups, keyLogitOffsets: offsets).item();
        double expected = ReferenceInfoNce(q, k, groups, 0.25, offsets, null, []);
        Assert.That(loss, Is.EqualTo(expected).Within(1e-5));
        Assert.That(F.info_nce(q, k, 0.25f, groups, keyLogitOffsets: [2f, 2f, 2f]).item(), Is.EqualTo(F.info_nce(q, k, 0.25f, groups).item()).Within(1e-6),
            "equal offsets (uniform sampling) change nothing");
        Assert.Throws<ArgumentException>(() => F.info_nce(q, k, 0.25f, groups, keyLogitOffsets: [1f, 2f]));
        Assert.Throws<ArgumentException>(() => F.info_nce(q, k, 0.25f, symmetric: true, keyLogitOffsets: offsets));
    }

    [Test]
    public void InfoNceWithANegativeBank()
    {
        ManagedTensor bank = Rand(9, 5, 6);
        Check(x => F.info_nce(F.l2_normalize(x[0]), F.l2_normalize(x[1]), bank, [1, 3], 0.5f, groupIds: [4, 7, 4, 1]), [Rand(1, 4, 6), Rand(2, 4, 6)]);
    }

    // InfoNCE written out: for each query i, -log softmax of its own key among the keys of other groups (each shifted by
    // its offset) and the bank rows that are not excluded.
    private static double ReferenceInfoNce(ManagedTensor q, ManagedTensor k, int[] groups, double temperature, float[]? offsets, ManagedTensor? bank, int[] excluded)
    {
        int b = q.shape[0];
        double total = 0;
        for (int i = 0; i < b; i++)
        {
            var logits = new List<double>();
            for (int j = 0; j < b; j++)
            {
                if (j == i || groups[j] != groups[i])
                {
                    logits.Add((Dot(q, i, k, j) / temperature) + (offsets?[j] ?? 0));
                }
            }

            for (int m = 0; bank is not null && m < bank.shape[0]; m++)
            {
                if (Array.IndexOf(excluded, m) < 0)
                {
                    logits.Add(Dot(q, i, bank, m) / temperature);
                }
            }

            double max = logits.Max();
            total += max + Math.Log(logits.Sum(l => Math.Exp(l - max))) - ((Dot(q, i, k, i) / temperature) + (offsets?[i] ?? 0));
        }

        return total / b;
    }

    private static double Dot(ManagedTensor a, int row, ManagedTensor b, int other)
    {
        double sum = 0;
        for (int c = 0; c < a.shape[1]; c++)
        {
            sum += a.Data[(row * a.shape[1]) + c] * b.Data[(other * b.shape[1]) + c];
        }

        return sum;
    }

    [Test]
    public void InfoNceWithANegativeBankMatchesADirectComputation()
    {
        ManagedTensor q = Rand(1, 3, 4), k = Rand(2, 3, 4), bank = Rand(3, 5, 4);
        int[] groups = [2, 5, 2];
        int[] excluded = [0, 4];
        float loss = F.info_nce(q, k, bank, excluded, 0.25f, groups).item();
        Assert.That(loss, Is.EqualTo(ReferenceInfoNce(q, k, groups, 0.25, null, bank, excluded)).Within(1e-5));
        Assert.Throws<ArgumentOutOfRangeException>(() => F.info_nce(q, k, bank, [5], 0.25f, groups));
    }

    [Test]
    public void ConcatSliceGather()
    {
        Check(x => F.concat([x[0], x[1]], 1), [Rand(1, 2, 3, 2), Rand(2, 2, 1, 2)]);
        Check(x => F.slice(x[0], 1, 1, 2), [Rand(3, 2, 4, 3)]);
        Check(x => F.gather_rows(x[0], [2, 0, 2]), [Rand(4, 3, 5)]);
        Check(x => F.segment_mean(x[0], [0, 1, 3], [2, 3, 1]), [Rand(5, 4, 3)]);
    }

    [Test]
    public void SegmentMeanAveragesEachSpan()
    {
        using ManagedTensor x = ManagedTensor.from([1, 10, 2, 20, 3, 30, 4, 40], 4, 2);
        Assert.That(F.segment_mean(x, [0, 1, 3], [2, 3, 1]).Data.ToArray(), Is.EqualTo(new float[] { 1.5f, 15, 3, 30, 4, 40 }));
        Assert.That(() => F.segment_mean(x, [3], [2]), Throws.TypeOf<ArgumentOutOfRangeException>());
        Assert.That(() => F.segment_mean(x, [0], [0]), Throws.TypeOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void ReshapeViewAndClone() => Check(x => x[0].reshape(3, -1).clone().mul(x[0].reshape(3, 4)), [Rand(1, 2, 6)]);
}
