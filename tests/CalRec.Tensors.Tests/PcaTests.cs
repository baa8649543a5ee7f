using CalRec.Tensors.LinearAlgebra;

namespace CalRec.Tensors.Tests;

[TestFixture]
public class PcaTests
{
    [Test]
    public void RecoversKnownAxesAndVariances()
    {
        // Points spread with std 3 along (1,1,0)/√2, std 1 along (1,-1,0)/√2, 0.1 along z, around mean (5, -2, 1).
        var g = new SeededRandom(4);
        const int n = 4000;
        float[] rows = new float[n * 3];
        float r = 1f / MathF.Sqrt(2);
        for (int i = 0; i < n; i++)
        {
            float a = 3f * (float)g.NextGaussian(), b = (float)g.NextGaussian(), c = 0.1f * (float)g.NextGaussian();
            rows[(i * 3) + 0] = 5 + ((a + b) * r);
            rows[(i * 3) + 1] = -2 + ((a - b) * r);
            rows[(i * 3) + 2] = 1 + c;
        }

        Pca pca = Pca.Fit(rows, 3, 2);
        Assert.That(pca.ExplainedVariance[0], Is.EqualTo(9).Within(0.5));
        Assert.That(pca.ExplainedVariance[1], Is.EqualTo(1).Within(0.1));
        Assert.That(Math.Abs(pca.Component(0)[0] * r + pca.Component(0)[1] * r), Is.EqualTo(1).Within(1e-3));
        Assert.That(Math.Abs(pca.Component(1)[0] * r - pca.Component(1)[1] * r), Is.EqualTo(1).Within(1e-3));
        float[] projected = pca.Transform(rows.AsSpan(0, 3));
        Assert.That(projected, Has.Length.EqualTo(2));
        Assert.Throws<ArgumentException>(() => Pca.Fit(rows, 3, 4));
    }
}
