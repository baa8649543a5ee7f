using CalRec.Data.Splits;
using CalRec.Data.Synthetic;
using CalRec.Recommenders.Evaluation;
using CalRec.Recommenders.SasRec;
using CalRec.Tensors;
using CalRec.Tensors.Memory;
using CalRec.Torch.SasRec;
using static TorchSharp.torch;
using F = CalRec.Tensors.Functional;

namespace CalRec.Torch.Tests;

/// <summary>SASRec's step on TorchSharp against our engine's, and SASRec trained through the engine seam.</summary>
public sealed class SasRecEngineTests
{
    private static readonly LeaveOneOutSplit Split = new(SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 3, UsersPerDomain = 60 }).ToDataset());

    [Test]
    public void TheForwardPassLossAndGradientsMatchOurEngine()
    {
        var settings = new SasRecEngineSettings(Split.Data.ItemCount, 16, 2, 2, 10, 0f, 0.9f, 0.98f, SasRecLoss.CrossEntropy, Seed: 1);
        var ours = new SasRecNetwork(settings.ItemCount, settings.Hidden, settings.Blocks, settings.Heads, settings.MaxLength, 0f, seed: 4);
        using var engine = new TorchSasRecEngine(ours.named_parameters(), settings, CPU);
        // Three left-padded windows, one of them mostly padding.
        int[] rows = [0, 0, 0, 5, 9, 2, 7, 1, 3, 4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 0, 0, 0, 0, 0, 0, 0, 11, 12];
        int[] positions = [3, 4, 5, 6, 7, 8, 10, 11, 15, 19, 28];
        int[] targets = [8, 1, 6, 0, 2, 3, 1, 2, 6, 20, 11];

        ours.zero_grad();
        float want;
        using (TensorScope.Begin())
        {
            ManagedTensor hidden = F.gather_rows(ours.Forward(rows, 3, 10).reshape(30, 16), positions);
            ManagedTensor loss = F.cross_entropy(ours.Scores(hidden), targets);
            want = loss.item();
            loss.backward();
        }

        engine.Train(false);
        Tensor got = engine.Loss(rows, 3, 10, positions, targets, negatives: null);
        got.backward();
        Assert.That(got.item<float>(), Is.EqualTo(want).Within(1e-4 * want));
        var grads = new Dictionary<string, float[]>();
        foreach ((string name, ManagedTensor p) in ours.named_parameters())
        {
            grads[name] = p.grad!.ToArray();
        }

        // The engine's gradients, read through a copy of its parameters' .grad into a twin network.
        var twin = new SasRecNetwork(settings.ItemCount, settings.Hidden, settings.Blocks, settings.Heads, settings.MaxLength, 0f, seed: 99);
        engine.CopyGradientsTo(twin.named_parameters());
        foreach ((string name, ManagedTensor p) in twin.named_parameters())
        {
            // The key bias's true gradient is zero (softmax ignores a score shift per row): both engines give rounding
            // noise there, so the scale has a floor.
            double scale = Math.Max(1e-4, grads[name].Max(Math.Abs));
            Assert.That(Fixtures.MaxAbsDiff(p.ToArray(), grads[name]) / scale, Is.LessThanOrEqualTo(1e-4), name);
        }
    }

    [Test]
    public void WithDropoutTheSameSeedRepeatsTheRun()
    {
        var options = new SasRecTrainer.Options { Hidden = 16, MaxLength = 10, Dropout = 0.5f, BatchSize = 32, MaxEpochs = 2, MinEpochs = 2, Seed = 7 };
        List<float> Run(SasRecTrainer.Options o)
        {
            var reports = new List<SasRecEpochReport>();
            SasRecTraining.Fit(Split, o, reports.Add, engine: TorchSasRecEngine.On(CPU));
            return reports.Select(r => (float)r.Loss).ToList();
        }

        List<float> first = Run(options);
        Assert.That(Run(options), Is.EqualTo(first));
        Assert.That(Run(options with { Seed = 8 }), Is.Not.EqualTo(first));
    }

    [Test]
    public void AResumedTorchSharpRunContinuesWithItsCheckpointedMomentsToTheSameEpochs()
    {
        // No dropout: the engine reseeds its generator when it is created, so only then can a resumed run repeat exactly.
        string dir = Path.Combine(Path.GetTempPath(), "calrec-sasrec-torch-resume-" + Guid.NewGuid().ToString("N"));
        try
        {
            var options = new SasRecTrainer.Options { Hidden = 16, MaxLength = 10, Dropout = 0f, BatchSize = 32, MaxEpochs = 4, MinEpochs = 4, Seed = 7 };
            var straight = new List<SasRecEpochReport>();
            SasRecTraining.Fit(Split, options, straight.Add, engine: TorchSasRecEngine.On(CPU));

            var resumed = new List<SasRecEpochReport>();
            SasRecTraining.Fit(Split, options with { MaxEpochs = 2, CheckpointDirectory = dir }, resumed.Add, engine: TorchSasRecEngine.On(CPU));
            SasRecTraining.Fit(Split, options with { CheckpointDirectory = dir, Resume = true }, resumed.Add, engine: TorchSasRecEngine.On(CPU));
            Assert.That(resumed.Select(r => r.Epoch), Is.EqualTo(new[] { 1, 2, 3, 4 }));
            for (int i = 2; i < 4; i++)
            {
                Assert.That(resumed[i].Loss, Is.EqualTo(straight[i].Loss).Within(1e-5 * straight[i].Loss), $"epoch {i + 1}");
                Assert.That(resumed[i].ValidationNdcg10, Is.EqualTo(straight[i].ValidationNdcg10).Within(1e-9), $"epoch {i + 1}");
            }
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, true);
            }
        }
    }

    [TestCase(SasRecLoss.CrossEntropy)]
    [TestCase(SasRecLoss.BinaryCrossEntropy)]
    public void TrainingThroughTheTorchSharpEngineFollowsOurEnginesEpochs(SasRecLoss loss)
    {
        var options = new SasRecTrainer.Options { Hidden = 16, MaxLength = 10, Dropout = 0f, BatchSize = 32, LearningRate = 3e-3f, MaxEpochs = 5, MinEpochs = 5, Loss = loss, Seed = 7 };
        var want = new List<SasRecEpochReport>();
        var got = new List<SasRecEpochReport>();
        SasRecScorer ours = SasRecTraining.Fit(Split, options, want.Add);
        SasRecScorer theirs = SasRecTraining.Fit(Split, options, got.Add, engine: TorchSasRecEngine.On(CPU));

        for (int i = 0; i < want.Count; i++)
        {
            Assert.That(got[i].Loss, Is.EqualTo(want[i].Loss).Within(0.01 * want[i].Loss), $"epoch {i + 1}");
        }

        var evaluation = new RecommendationEvaluatorOptions { Ks = [10], BootstrapSamples = 0 };
        double a = RecommendationEvaluator.Evaluate(ours, Split.Test, evaluation)["ndcg@10"].Value;
        double b = RecommendationEvaluator.Evaluate(theirs, Split.Test, evaluation)["ndcg@10"].Value;
        TestContext.Out.WriteLine($"{loss}: test NDCG@10 ours {a:F4}, TorchSharp engine {b:F4}; last epoch loss {want[^1].Loss:F4} / {got[^1].Loss:F4}");
        Assert.That(got[^1].Loss, Is.LessThan(got[0].Loss), "it learns");
        Assert.That(b, Is.EqualTo(a).Within(0.03));
    }

    [TestCase(SasRecLoss.CrossEntropy, false)]
    [TestCase(SasRecLoss.BinaryCrossEntropy, false)]
    [TestCase(SasRecLoss.CrossEntropy, true)]
    [TestCase(SasRecLoss.BinaryCrossEntropy, true)]
    public void GradientAccumulationTakesTheSameStepsAsWholeBatches(SasRecLoss loss, bool torchSharp)
    {
        // No dropout: micro-batches draw their masks in another order.
        var options = new SasRecTrainer.Options { Hidden = 16, MaxLength = 10, Dropout = 0f, BatchSize = 32, MaxEpochs = 2, MinEpochs = 2, Loss = loss, Seed = 7 };
        SasRecEngineFactory? engine = torchSharp ? TorchSasRecEngine.On(CPU) : null;
        var whole = new List<SasRecEpochReport>();
        var split = new List<SasRecEpochReport>();
        SasRecScorer a = SasRecTraining.Fit(Split, options, whole.Add, engine: engine);
        SasRecScorer b = SasRecTraining.Fit(Split, options with { AccumulationSteps = 3 }, split.Add, engine: engine);

        // Two epochs through the trainer: the same loss curve (AdamW turns rounding-level gradient differences of
        // near-zero entries into sign flips, so weights are compared through the gradients below instead).
        Assert.That(split.Select(r => r.Loss), Is.EqualTo(whole.Select(r => r.Loss)).Within(1e-4));
        Assert.That(split.Select(r => r.ValidationNdcg10), Is.EqualTo(whole.Select(r => r.ValidationNdcg10)).Within(2e-3));
        Assert.That(() => SasRecTraining.Fit(Split, options with { AccumulationSteps = 33 }), Throws.ArgumentException.With.Message.Contains("between 1 and the batch size"));
    }

    [TestCase(SasRecLoss.CrossEntropy)]
    [TestCase(SasRecLoss.BinaryCrossEntropy)]
    public void MicroBatchGradientsAddUpToTheWholeBatchsOnBothEngines(SasRecLoss loss)
    {
        var settings = new SasRecEngineSettings(Split.Data.ItemCount, 16, 2, 2, 10, 0f, 0.9f, 0.98f, loss, Seed: 1);
        int[] rows = [0, 0, 0, 5, 9, 2, 7, 1, 3, 4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 0, 0, 0, 0, 0, 0, 0, 11, 12];
        int[] positions = [3, 4, 5, 6, 7, 8, 10, 11, 15, 19, 28];
        int[] targets = [8, 1, 6, 0, 2, 3, 1, 2, 6, 20, 11];
        int[][]? negatives = loss == SasRecLoss.CrossEntropy ? null : [[30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40]];
        var batch = new SasRecBatch(rows, 3, 10, positions, targets, negatives);

        float[] Gradients(IReadOnlyList<SasRecBatch> micro, bool torchSharp, out float value)
        {
            var net = new SasRecNetwork(settings.ItemCount, settings.Hidden, settings.Blocks, settings.Heads, settings.MaxLength, 0f, seed: 4);
            if (torchSharp)
            {
                using var engine = new TorchSasRecEngine(net.named_parameters(), settings, CPU);
                // A zero learning rate: the step leaves the weights and the gradients of the accumulated backward pass.
                value = engine.Step(micro, learningRate: 0f);
                engine.CopyGradientsTo(net.named_parameters());
                return net.parameters().SelectMany(p => p.ToArray()).ToArray();
            }

            net.zero_grad();
            value = SasRecTraining.Backward(net, micro);
            return net.parameters().SelectMany(p => p.grad!.ToArray()).ToArray();
        }

        foreach (bool torchSharp in new[] { false, true })
        {
            float[] whole = Gradients([batch], torchSharp, out float wholeLoss);
            float[] parts = Gradients(batch.Split(3), torchSharp, out float partsLoss);
            Assert.That(partsLoss, Is.EqualTo(wholeLoss).Within(1e-5 * wholeLoss), torchSharp ? "TorchSharp" : "ours");
            Assert.That(Fixtures.MaxAbsDiff(parts, whole) / whole.Max(Math.Abs), Is.LessThanOrEqualTo(1e-5), torchSharp ? "TorchSharp" : "ours");
        }
    }
}
