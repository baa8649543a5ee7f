using CalRec.Data.Splits;
using CalRec.Data.Synthetic;
using CalRec.Models.Training;
using CalRec.Recommenders.Evaluation;
using CalRec.Recommenders.MostPopular;
using CalRec.Recommenders.SasRec;
using CalRec.Tensors;

namespace CalRec.Recommenders.Tests;

[TestFixture]
public class SasRecTests
{
    private static (List<SasRecEpochReport> Reports, RecommendationMetrics Popularity, RecommendationMetrics SasRec) FitAndEvaluate(LeaveOneOutSplit split, SasRecTrainer.Options options)
    {
        var reports = new List<SasRecEpochReport>();
        SasRecScorer sasrec = SasRecTraining.Fit(split, options, reports.Add);
        var eval = new RecommendationEvaluatorOptions { Ks = [10], BootstrapSamples = 200 };
        RecommendationMetrics pop = RecommendationEvaluator.Evaluate(new MostPopularScorer(split.Train, split.Data.ItemCount), split.Test, eval);
        RecommendationMetrics seq = RecommendationEvaluator.Evaluate(sasrec, split.Test, eval);
        TestContext.Out.WriteLine($"MostPopular NDCG@10 {pop["ndcg@10"]}, SASRec ({options.Loss}) {seq["ndcg@10"]} after {reports.Count} epochs");
        return (reports, pop, seq);
    }

    [TestCase(SasRecLoss.CrossEntropy, SasRecBatching.RandomUsers, 0)]
    [TestCase(SasRecLoss.BinaryCrossEntropy, SasRecBatching.LengthBuckets, 0)]
    [TestCase(SasRecLoss.CrossEntropy, SasRecBatching.RandomUsers, 2)]
    [TestCase(SasRecLoss.BinaryCrossEntropy, SasRecBatching.LengthBuckets, 1)]
    public void ARunCancelledAfterAnEpochOrMidwayResumesFromItsCheckpointToTheSameModel(SasRecLoss loss, SasRecBatching batching, int stepsIntoEpoch4)
    {
        var split = new LeaveOneOutSplit(SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 3, UsersPerDomain = 60 }).ToDataset());
        var options = new SasRecTrainer.Options
        {
            Hidden = 16, MaxLength = 10, Dropout = 0.3f, BatchSize = 32, LearningRate = 3e-3f, MaxEpochs = 6, MinEpochs = 6, Loss = loss, Batching = batching, Seed = 7,
        };
        var straightReports = new List<SasRecEpochReport>();
        SasRecScorer straight = SasRecTraining.Fit(split, options, straightReports.Add);

        string dir = Path.Combine(Path.GetTempPath(), "calrec-sasrec-ckpt-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var cts = new CancellationTokenSource();
            var stepsOfEpoch4 = new List<float>();
            Assert.That(() => SasRecTraining.Fit(split, options with { CheckpointDirectory = dir }, null, cts.Token, null, r =>
            {
                if ((r.Position.Epoch == 2 && r.EndOfEpoch && stepsIntoEpoch4 == 0) || (r.Position.Epoch == 3 && r.Position.Step + 1 == stepsIntoEpoch4))
                {
                    cts.Cancel();
                }

                if (r.Position.Epoch == 3)
                {
                    stepsOfEpoch4.Add(r.Result.Loss);
                }
            }), Throws.InstanceOf<OperationCanceledException>());
            Assert.That(stepsOfEpoch4, Has.Count.EqualTo(stepsIntoEpoch4), "cancelled where the test asked");

            SasRecTrainer.Options saved = SasRecTrainer.Options.FromCheckpoint(dir);
            Assert.That(saved with { CheckpointDirectory = null, Resume = false }, Is.EqualTo(options), "the checkpoint carries the run's settings");
            var resumedReports = new List<SasRecEpochReport>();
            SasRecScorer resumed = SasRecTraining.Fit(split, saved, resumedReports.Add);

            Assert.That(resumedReports.Select(r => r.Epoch), Is.EqualTo(new[] { 4, 5, 6 }));
            // A run resumed midway through epoch 4 reports the mean loss of that epoch's steps it took itself.
            Assert.That(resumedReports.Skip(stepsIntoEpoch4 > 0 ? 1 : 0).Select(r => (r.Loss, r.ValidationNdcg10)),
                Is.EqualTo(straightReports.Skip(stepsIntoEpoch4 > 0 ? 4 : 3).Select(r => (r.Loss, r.ValidationNdcg10))));
            Assert.That(resumedReports[0].ValidationNdcg10, Is.EqualTo(straightReports[3].ValidationNdcg10));
            Assert.That((resumed.BestEpoch, resumed.Epochs), Is.EqualTo((straight.BestEpoch, straight.Epochs)));
            Assert.That((straight.EarlierTime, resumed.EarlierTime > TimeSpan.Zero), Is.EqualTo((TimeSpan.Zero, true)),
                "the time of the epochs before the resume counts in the model's training time");
            float[] a = new float[10 * split.Data.ItemCount], b = new float[a.Length];
            int[][] histories = split.Test.Take(10).Select(c => c.History).ToArray();
            straight.Score(histories, a);
            resumed.Score(histories, b);
            Assert.That(b, Is.EqualTo(a), "the same weights, bit for bit");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void LearnsTheSyntheticRoutinesAndBeatsMostPopular()
    {
        var split = new LeaveOneOutSplit(SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 9 }).ToDataset());
        var options = new SasRecTrainer.Options { Hidden = 32, MaxLength = 20, Dropout = 0.2f, BatchSize = 64, LearningRate = 3e-3f, MaxEpochs = 25, Patience = 4, Seed = 1 };
        (List<SasRecEpochReport> reports, RecommendationMetrics pop, RecommendationMetrics seq) = FitAndEvaluate(split, options);
        Assert.That(reports[^1].Loss, Is.LessThan(reports[0].Loss));
        Assert.That(seq["ndcg@10"].Value, Is.GreaterThan(2 * pop["ndcg@10"].Value), "the routines are learnable, popularity cannot follow them");
        Assert.That(seq.CompareNdcg(pop, 10).Low, Is.GreaterThan(0), "the paired difference is not noise");
    }

    [Test]
    public void BinaryCrossEntropyWithSampledNegativesAlsoLearns()
    {
        var split = new LeaveOneOutSplit(SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 9 }).ToDataset());
        var options = new SasRecTrainer.Options
        {
            Hidden = 32, MaxLength = 20, Dropout = 0.2f, BatchSize = 64, LearningRate = 3e-3f, MaxEpochs = 25, Patience = 4, MinEpochs = 5, Seed = 1,
            Loss = SasRecLoss.BinaryCrossEntropy, NegativeSamples = 2,
        };
        (List<SasRecEpochReport> reports, RecommendationMetrics pop, RecommendationMetrics seq) = FitAndEvaluate(split, options);
        Assert.That(reports[0].Loss, Is.LessThan(3 * Math.Log(2) + 0.05), "starts near 3 ln 2 (one positive, two negatives at chance)");
        Assert.That(reports[^1].Loss, Is.LessThan(reports[0].Loss));
        Assert.That(seq["ndcg@10"].Value, Is.GreaterThan(2 * pop["ndcg@10"].Value));
    }

    [Test]
    public void EarlyStoppingWaitsForTheMinimumEpochs()
    {
        var split = new LeaveOneOutSplit(SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 3, UsersPerDomain = 40 }).ToDataset());
        var reports = new List<SasRecEpochReport>();
        SasRecTraining.Fit(split, new SasRecTrainer.Options { Hidden = 8, MaxLength = 5, BatchSize = 64, LearningRate = 0f, MaxEpochs = 9, Patience = 1, MinEpochs = 6, Seed = 5 }, reports.Add);
        Assert.That(reports, Has.Count.EqualTo(6), "with lr 0 validation never improves after epoch 1; stopping waits for epoch 6");
    }

    [Test]
    public void SameSeedSameModel()
    {
        var split = new LeaveOneOutSplit(SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 3, UsersPerDomain = 60 }).ToDataset());
        var options = new SasRecTrainer.Options { Hidden = 16, MaxLength = 10, BatchSize = 32, MaxEpochs = 2, Seed = 5 };
        var a = new List<double>();
        var b = new List<double>();
        SasRecTraining.Fit(split, options, r => a.Add(r.Loss));
        SasRecTraining.Fit(split, options, r => b.Add(r.Loss));
        Assert.That(b, Is.EqualTo(a));
    }

    [Test]
    public void RandomBatchesCoverEveryUserOnceAndMixLengthsDifferentlyEachEpoch()
    {
        int[] users = Enumerable.Range(0, 100).ToArray();
        var batches = new SasRecBatches(users, u => u % 37, 16, SasRecBatching.RandomUsers);
        var order = new SeededRandom(7);
        var epochs = new List<int[][]>();
        for (int e = 0; e < 3; e++)
        {
            batches.Next(order);
            epochs.Add(Enumerable.Range(0, batches.Count).Select(i => batches.Users.AsSpan(batches[i].Start, batches[i].Count).ToArray()).ToArray());
        }

        foreach (int[][] epoch in epochs)
        {
            Assert.That(epoch, Has.Length.EqualTo(7));
            Assert.That(epoch.Select(b => b.Length), Is.EqualTo(new[] { 16, 16, 16, 16, 16, 16, 4 }));
            Assert.That(epoch.SelectMany(b => b).Order(), Is.EqualTo(users), "every user exactly once per epoch");
        }

        Assert.That(epochs[1][0], Is.Not.EquivalentTo(epochs[0][0]), "batches are regrouped every epoch");
        Assert.That(epochs[0].Count(b => b.Max(u => u % 37) - b.Min(u => u % 37) > 20), Is.GreaterThan(3), "random batches mix short and long histories");
    }

    [Test]
    public void LengthBucketsKeepTheirUsersAndOnlyChangeOrder()
    {
        int[] users = Enumerable.Range(0, 100).Reverse().ToArray();
        var batches = new SasRecBatches(users, u => u % 37, 16, SasRecBatching.LengthBuckets);
        var order = new SeededRandom(7);
        HashSet<string> Groups()
        {
            batches.Next(order);
            return Enumerable.Range(0, batches.Count).Select(i => string.Join(',', batches.Users.AsSpan(batches[i].Start, batches[i].Count).ToArray().Order())).ToHashSet();
        }

        HashSet<string> first = Groups();
        Assert.That(Groups(), Is.EquivalentTo(first), "the same groups every epoch");
        Assert.That(batches.Users.Select(u => u % 37), Is.Ordered, "users sorted by length, so a batch pads only to its own longest history");
    }

    [Test]
    public void EmbeddingTablesStartXavierNormal()
    {
        var net = new SasRecNetwork(itemCount: 3000, hidden: 50, blocks: 1, heads: 1, maxLength: 200, dropout: 0f, seed: 3);
        static double Std(float[] v) => Math.Sqrt(v.Select(x => (double)x * x).Average() - Math.Pow(v.Average(x => (double)x), 2));
        Assert.That(Std(net.item_emb.weight.ToArray()), Is.EqualTo(Math.Sqrt(2.0 / 3051)).Within(3).Percent);
        Assert.That(Std(net.pos_emb.weight.ToArray()), Is.EqualTo(Math.Sqrt(2.0 / 250)).Within(3).Percent);
        Assert.That(Std(net.Blocks[0].conv1.weight.ToArray()), Is.EqualTo(Math.Sqrt(2.0 / 100)).Within(5).Percent);
        Assert.That(net.ItemInitStd, Is.EqualTo(MathF.Sqrt(2f / 3051)).Within(1e-6));
    }

    [Test]
    public void ABatchSplitsIntoMicroBatchesWithRenumberedPositionsAndShares()
    {
        // Three windows of four; positions 1-3 in the first, 6-7 in the second, 9 in the third.
        var batch = new SasRecBatch(Enumerable.Range(0, 12).ToArray(), 3, 4, [1, 2, 3, 6, 7, 9], [10, 11, 12, 13, 14, 15], [[20, 21, 22, 23, 24, 25]]);
        IReadOnlyList<SasRecBatch> parts = batch.Split(3);
        Assert.That(parts.Select(p => p.Positions), Is.EqualTo(new[] { new[] { 1, 2, 3 }, [2, 3], [1] }));
        Assert.That(parts.Select(p => p.Targets), Is.EqualTo(new[] { new[] { 10, 11, 12 }, [13, 14], [15] }));
        Assert.That(parts.Select(p => p.Negatives![0]), Is.EqualTo(new[] { new[] { 20, 21, 22 }, [23, 24], [25] }));
        Assert.That(parts.Select(p => p.Rows), Is.EqualTo(new[] { new[] { 0, 1, 2, 3 }, [4, 5, 6, 7], [8, 9, 10, 11] }));
        Assert.That(parts.Select(p => p.Share), Is.EqualTo(new[] { 0.5f, 2 / 6f, 1 / 6f }));
        Assert.That(batch.Split(2).Select(p => (p.Batch, p.Positions.Length)), Is.EqualTo(new[] { (1, 3), (2, 3) }));
    }

    [Test]
    public void ATinyTimeBudgetTrainsExactlyOneEpoch()
    {
        var split = new LeaveOneOutSplit(SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 3, UsersPerDomain = 40 }).ToDataset());
        var reports = new List<SasRecEpochReport>();
        SasRecTraining.Fit(split, new SasRecTrainer.Options { Hidden = 8, MaxLength = 5, MaxEpochs = 50, MinEpochs = 0, Patience = 50, MaxMinutes = 1e-6, Seed = 5 }, reports.Add);
        Assert.That(reports, Has.Count.EqualTo(1));
    }
}
