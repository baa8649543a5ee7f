using CalRec.Data.Splits;
using CalRec.Data.Synthetic;
using CalRec.Models.Decoder;
using CalRec.Models.Embeddings;
using CalRec.Models.Training;
using CalRec.Recommenders.CalRec;
using CalRec.Recommenders.SasRec;
using CalRec.Tensors;
using CalRec.Torch.CalRec;
using CalRec.Torch.Decoder;
using CalRec.Torch.SasRec;
using CalRec.Torch.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace CalRec.Torch.Tests;

/// <summary>
/// bfloat16 mixed precision on TorchSharp (written out: TorchSharp 0.107 has no autocast), and what it rests on:
/// converting a decoder with <c>Module.to</c> (the same code path as moving it to a GPU) keeps its layers' weight fields
/// and registered parameters one tensor.
/// </summary>
public sealed class MixedPrecisionTests
{
    [Test]
    public void AMixedPrecisionCalRecStepFollowsTheFloat32StepAndKeepsFloat32MasterWeights()
    {
        (DecoderLM model, HistoryBatch batch) = CalRecEngineTests.Setup(pooling: Pooling.LastToken);
        var settings = new CalRecStepSettings(new LossWeights(1f, 1f, 1f), Pooling.LastToken, 0.1f, 0.01f, 1f, 0.9f, 0.999f, Seed: 3);
        float[] Gradients(TrainingPrecision precision, out float loss)
        {
            using var engine = new TorchCalRecEngine(model, settings, CPU, precision);
            loss = engine.Step([batch], learningRate: 0f).Total;
            var copy = new DecoderLM(model.Config, seed: 1);
            engine.CopyGradientsTo(copy);
            return copy.parameters().SelectMany(p => p.ToArray()).ToArray();
        }

        float[] full = Gradients(TrainingPrecision.Float32, out float fullLoss);
        float[] mixed = Gradients(TrainingPrecision.BFloat16, out float mixedLoss);
        double dot = 0, a = 0, b = 0;
        for (int i = 0; i < full.Length; i++)
        {
            (dot, a, b) = (dot + ((double)full[i] * mixed[i]), a + ((double)full[i] * full[i]), b + ((double)mixed[i] * mixed[i]));
        }

        double cosine = dot / Math.Sqrt(a * b);
        TestContext.Out.WriteLine($"loss fp32 {fullLoss:F4}, bf16 {mixedLoss:F4}; gradient cosine {cosine:F5}");
        Assert.That(mixedLoss, Is.EqualTo(fullLoss).Within(0.03 * fullLoss));
        Assert.That(cosine, Is.GreaterThan(0.99), "the master weights get the float32 step's gradient, up to bfloat16 rounding");

        using var stepping = new TorchCalRecEngine(model, settings, CPU, TrainingPrecision.BFloat16);
        float before = stepping.Step([batch], 1e-2f).Total;
        float after = before;
        for (int i = 0; i < 10; i++)
        {
            after = stepping.Step([batch], 1e-2f).Total;
        }

        Assert.That(after, Is.LessThan(before * 0.8), "ten bf16 steps on one batch fit it");
        var back = new DecoderLM(model.Config, seed: 1);
        stepping.CopyWeightsTo(back);
        Assert.That(Fixtures.MaxAbsDiff(back.TokenEmbedding.ToArray(), model.TokenEmbedding.ToArray()), Is.GreaterThan(1e-3), "the master weights moved");
        Assert.That(back.TokenEmbedding.ToArray().Any(v => v != (float)(BFloat16Round(v))), Is.True, "and stay float32, not rounded to bfloat16");
    }

    [TestCase(SasRecLoss.CrossEntropy)]
    [TestCase(SasRecLoss.BinaryCrossEntropy)]
    public void SasRecInMixedPrecisionFollowsTheFloat32Run(SasRecLoss loss)
    {
        var split = new LeaveOneOutSplit(SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 3, UsersPerDomain = 60 }).ToDataset());
        var options = new SasRecTrainer.Options { Hidden = 16, MaxLength = 10, Dropout = 0f, BatchSize = 32, LearningRate = 3e-3f, MaxEpochs = 4, MinEpochs = 4, Loss = loss, Seed = 7 };
        var full = new List<SasRecEpochReport>();
        var mixed = new List<SasRecEpochReport>();
        SasRecTraining.Fit(split, options, full.Add, engine: TorchSasRecEngine.On(CPU));
        SasRecScorer model = SasRecTraining.Fit(split, options, mixed.Add, engine: TorchSasRecEngine.On(CPU, TrainingPrecision.BFloat16));
        TestContext.Out.WriteLine($"loss fp32 {string.Join(", ", full.Select(r => r.Loss.ToString("F4")))}; bf16 {string.Join(", ", mixed.Select(r => r.Loss.ToString("F4")))}");
        Assert.That(mixed.Select(r => r.Loss), Is.EqualTo(full.Select(r => r.Loss)).Within(0.02 * full[0].Loss), "the same loss curve up to bfloat16 rounding");
        Assert.That(mixed[^1].Loss, Is.LessThan(mixed[0].Loss), "it learns");
        Assert.That(model.Model.parameters().SelectMany(p => p.ToArray()).Any(v => v != (float)BFloat16Round(v)), Is.True, "the weights read back are the float32 master's");
    }

    [Test]
    public void PretrainingInMixedPrecisionLearnsAsFloat32Does()
    {
        (PackedTokenDataset train, PackedTokenDataset validation) = TrainerBackendTests.Data();
        CausalLmTrainerOptions options = TrainerBackendTests.Options;
        float Run(TrainingPrecision precision, out float initial)
        {
            var model = TorchWeights.ToTorch(new DecoderLM(TrainerBackendTests.Config, seed: 1));
            var trainer = new CausalLmTrainer(new TorchCausalLmBackend(model, options.LearningRate, options.WeightDecay, 0, precision), options);
            initial = trainer.Evaluate(validation);
            trainer.Train(train, validation);
            return trainer.BestValidationLoss!.Value;
        }

        float full = Run(TrainingPrecision.Float32, out float start);
        float mixed = Run(TrainingPrecision.BFloat16, out _);
        TestContext.Out.WriteLine($"validation loss: start {start:F3}, fp32 {full:F3}, bf16 {mixed:F3}");
        Assert.That(mixed, Is.LessThan(start * 0.6), "it learned the repetitive text");
        Assert.That(mixed, Is.EqualTo(full).Within(0.1 * full));
    }

    [TestCaseSource(typeof(Fixtures), nameof(Fixtures.Names))]
    public void ADecoderConvertedWithModuleToComputesWithTheParametersItRegisters(string name)
    {
        DecoderLM ours = Fixtures.Managed(name);
        // Move every weight, so that a stale field (the fixture's values, or a disposed tensor) cannot pass unnoticed.
        var g = new SeededRandom(5);
        foreach ((_, ManagedTensor p) in ours.named_parameters())
        {
            System.Numerics.Tensors.TensorPrimitives.Add(p.Data, ManagedTensor.randn(g, 0.05f, p.shape.ToArray()).Data, p.Data);
        }

        TorchDecoderLM converted = TorchWeights.ToTorch(Fixtures.Managed(name));
        converted.to(ScalarType.BFloat16);
        Assert.That(converted.parameters().Select(p => p.dtype), Has.All.EqualTo(ScalarType.BFloat16));
        TorchDecoderLM reference = TorchWeights.ToTorch(ours);
        TorchParameters.CopyBetween(reference, converted);

        int[][] ids = Fixtures.RandomIds(2, 6, ours.Config.VocabSize, 3);
        float[] want = Fixtures.TorchLogits(reference, ids), got = Fixtures.TorchLogits(converted, ids);
        double scale = want.Max(Math.Abs);
        TestContext.Out.WriteLine($"{name}: max |bf16 - fp32 logit| / max |logit| = {Fixtures.MaxAbsDiff(got, want) / scale:E2}");
        Assert.That(Fixtures.MaxAbsDiff(got, want) / scale, Is.LessThanOrEqualTo(0.05), "bfloat16 keeps about three significant digits");
        Assert.That(Fixtures.MaxAbsDiff(got, Fixtures.ManagedLogits(Fixtures.Managed(name), ids)) / scale, Is.GreaterThan(0.05), "the moved weights are the ones used");
    }

    private static double BFloat16Round(float v) => BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(v) & unchecked((int)0xFFFF0000));
}
