using CalRec.Data.Splits;
using CalRec.Data.Synthetic;
using CalRec.Recommenders.Evaluation;
using CalRec.Recommenders.LlmSeqSim;
using CalRec.Recommenders.MostPopular;
using CalRec.Recommenders.SasRec;
using CalRec.Tensors;
using CalRec.Tensors.LinearAlgebra;

namespace CalRec.Recommenders.Tests;

[TestFixture]
public class LlmBaselineTests
{
    [Test]
    public void AggregationsWeightTheHistoryAsDefined()
    {
        // Three orthogonal item vectors: the session vector is the (normalized) weighted sum, scores are cosines.
        float[] items = [1, 0, 0, 0, 1, 0, 0, 0, 1];
        float[] scores = new float[3];
        new LlmSeqSimScorer(items, 3, SessionAggregation.Last).Score([[0, 1]], scores);
        Assert.That(scores, Is.EqualTo(new float[] { 0, 1, 0 }).Within(1e-6));
        new LlmSeqSimScorer(items, 3, SessionAggregation.Mean).Score([[0, 1]], scores);
        Assert.That(scores, Is.EqualTo(new[] { 1 / MathF.Sqrt(2), 1 / MathF.Sqrt(2), 0f }).Within(1e-6));
        new LlmSeqSimScorer(items, 3, SessionAggregation.HarmonicDecay).Score([[0, 1, 2]], scores);
        float norm = MathF.Sqrt(1 + 0.25f + (1f / 9));
        Assert.That(scores, Is.EqualTo(new[] { 1f / 3 / norm, 0.5f / norm, 1 / norm }).Within(1e-6));
    }

    [Test]
    public void TextEmbeddingsThatEncodeTheRoutineBeatPopularity()
    {
        // Embeddings built from the synthetic items' attributes (brand and type one-hots): the next item of a routine
        // shares its brand with the last item, so LLMSeqSim(Last) finds it far more often than popularity does.
        SyntheticCatalog catalog = SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 5 });
        var split = new LeaveOneOutSplit(catalog.ToDataset());
        string[] brands = catalog.Items.Select(i => i.Brand).Distinct().ToArray();
        float[] vectors = new float[catalog.Items.Count * brands.Length];
        for (int i = 0; i < catalog.Items.Count; i++)
        {
            vectors[(i * brands.Length) + Array.IndexOf(brands, catalog.Items[i].Brand)] = 1f;
        }

        var eval = new RecommendationEvaluatorOptions { Ks = [10], BootstrapSamples = 0 };
        double sim = RecommendationEvaluator.Evaluate(new LlmSeqSimScorer(vectors, brands.Length, SessionAggregation.Last), split.Test, eval)["hr@10"].Value;
        double pop = RecommendationEvaluator.Evaluate(new MostPopularScorer(split.Train, catalog.Items.Count), split.Test, eval)["hr@10"].Value;
        Assert.That(sim, Is.GreaterThan(2 * pop));
    }

    [Test]
    public void Llm2SasRecStartsFromTheGivenTable()
    {
        var split = new LeaveOneOutSplit(SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 6, UsersPerDomain = 40 }).ToDataset());
        int n = split.Data.ItemCount, d = 8;
        var g = new SeededRandom(2);
        float[] text = new float[n * 32];
        g.FillNormal(text, 0, 1);
        float[] reduced = Pca.Fit(text, 32, d).Transform(text);
        SasRecScorer model = SasRecTraining.Fit(split, new SasRecTrainer.Options { Hidden = d, MaxLength = 8, MaxEpochs = 0, InitialItemEmbeddings = reduced });
        float[] table = model.Model.item_emb.weight.ToArray()[d..];
        double corr = Correlation(table, reduced);
        Assert.That(corr, Is.GreaterThan(0.999), "the table is the PCA output up to one positive scale");
        Assert.Throws<ArgumentException>(() => SasRecTraining.Fit(split, new SasRecTrainer.Options { Hidden = d, MaxEpochs = 0, InitialItemEmbeddings = new float[3] }));
    }

    private static double Correlation(float[] a, float[] b)
    {
        double ma = a.Average(), mb = b.Average(), sab = 0, saa = 0, sbb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sab += (a[i] - ma) * (b[i] - mb);
            saa += (a[i] - ma) * (a[i] - ma);
            sbb += (b[i] - mb) * (b[i] - mb);
        }

        return sab / Math.Sqrt(saa * sbb);
    }
}
