using CalRec.Baselines;
using CalRec.Data.Splits;
using CalRec.Data.Synthetic;
using CalRec.Evaluation;

namespace CalRec.Tests;

[TestFixture]
public class SasRecTests
{
    private static (List<SasRecEpochReport> Reports, RankingMetrics Popularity, RankingMetrics SasRec) FitAndEvaluate(LeaveOneOutSplit split, SasRecOptions options)
    {
        var reports = new List<SasRecEpochReport>();
        SasRecScorer sasrec = SasRec.Fit(split, options, reports.Add);
        var eval = new RankingEvaluatorOptions { Ks = [10], BootstrapSamples = 200 };
        RankingMetrics pop = RankingEvaluator.Evaluate(new MostPopularScorer(split.Train, split.Data.ItemCount), split.Test, eval);
        RankingMetrics seq = RankingEvaluator.Evaluate(sasrec, split.Test, eval);
        TestContext.Out.WriteLine($"MostPopular NDCG@10 {pop["ndcg@10"]}, SASRec ({options.Loss}) {seq["ndcg@10"]} after {reports.Count} epochs");
        return (reports, pop, seq);
    }

    [Test]
    public void LearnsTheSyntheticRoutinesAndBeatsMostPopular()
    {
        var split = new LeaveOneOutSplit(SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 9 }).ToDataset());
        var options = new SasRecOptions { Hidden = 32, MaxLength = 20, Dropout = 0.2f, BatchSize = 64, LearningRate = 3e-3f, MaxEpochs = 25, Patience = 4, Seed = 1 };
        (List<SasRecEpochReport> reports, RankingMetrics pop, RankingMetrics seq) = FitAndEvaluate(split, options);
        Assert.That(reports[^1].Loss, Is.LessThan(reports[0].Loss));
        Assert.That(seq["ndcg@10"].Value, Is.GreaterThan(2 * pop["ndcg@10"].Value), "the routines are learnable, popularity cannot follow them");
        Assert.That(seq.CompareNdcg(pop, 10).Low, Is.GreaterThan(0), "the paired difference is not noise");
    }

    [Test]
    public void BinaryCrossEntropyWithSampledNegativesAlsoLearns()
    {
        var split = new LeaveOneOutSplit(SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 9 }).ToDataset());
        var options = new SasRecOptions
        {
            Hidden = 32, MaxLength = 20, Dropout = 0.2f, BatchSize = 64, LearningRate = 3e-3f, MaxEpochs = 25, Patience = 4, MinEpochs = 5, Seed = 1,
            Loss = SasRecLoss.BinaryCrossEntropy, NegativeSamples = 2,
        };
        (List<SasRecEpochReport> reports, RankingMetrics pop, RankingMetrics seq) = FitAndEvaluate(split, options);
        Assert.That(reports[0].Loss, Is.LessThan(3 * Math.Log(2) + 0.05), "starts near 3 ln 2 (one positive, two negatives at chance)");
        Assert.That(reports[^1].Loss, Is.LessThan(reports[0].Loss));
        Assert.That(seq["ndcg@10"].Value, Is.GreaterThan(2 * pop["ndcg@10"].Value));
    }

    [Test]
    public void EarlyStoppingWaitsForTheMinimumEpochs()
    {
        var split = new LeaveOneOutSplit(SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 3, UsersPerDomain = 40 }).ToDataset());
        var reports = new List<SasRecEpochReport>();
        SasRec.Fit(split, new SasRecOptions { Hidden = 8, MaxLength = 5, BatchSize = 64, LearningRate = 0f, MaxEpochs = 9, Patience = 1, MinEpochs = 6, Seed = 5 }, reports.Add);
        Assert.That(reports, Has.Count.EqualTo(6), "with lr 0 validation never improves after epoch 1; stopping waits for epoch 6");
    }

    [Test]
    public void SameSeedSameModel()
    {
        var split = new LeaveOneOutSplit(SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 3, UsersPerDomain = 60 }).ToDataset());
        var options = new SasRecOptions { Hidden = 16, MaxLength = 10, BatchSize = 32, MaxEpochs = 2, Seed = 5 };
        var a = new List<double>();
        var b = new List<double>();
        SasRec.Fit(split, options, r => a.Add(r.Loss));
        SasRec.Fit(split, options, r => b.Add(r.Loss));
        Assert.That(b, Is.EqualTo(a));
    }
}
