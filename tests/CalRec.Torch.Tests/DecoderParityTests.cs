using CalRec.Models.Checkpoints;
using CalRec.Models.Decoder;
using CalRec.Models.Generation;
using CalRec.Torch.Decoder;
using CalRec.Torch.Generation;
using static TorchSharp.torch;

namespace CalRec.Torch.Tests;

/// <summary>The TorchSharp decoders against PyTorch's reference logits and against our engine, on the same weights.</summary>
public sealed class DecoderParityTests
{
    [TestCaseSource(typeof(Fixtures), nameof(Fixtures.Names))]
    public void LogitsMatchThePyTorchReferenceAndOurEngine(string name)
    {
        (int[][] ids, float[] want) = Fixtures.Expected(name);
        (TorchDecoderLM model, _) = TorchWeights.Load(Fixtures.Folder(name));

        float[] got = Fixtures.TorchLogits(model, ids);
        float[] ours = Fixtures.ManagedLogits(Fixtures.Managed(name), ids);

        double vsReference = Fixtures.MaxAbsDiff(got, want), vsOurs = Fixtures.MaxAbsDiff(got, ours);
        TestContext.Out.WriteLine($"{name}: max |logit diff| vs PyTorch {vsReference:E2}, vs our engine {vsOurs:E2}");
        Assert.That(vsReference, Is.LessThanOrEqualTo(1e-4));
        Assert.That(vsOurs, Is.LessThanOrEqualTo(1e-4));
    }

    [TestCaseSource(typeof(Fixtures), nameof(Fixtures.Names))]
    public void LeftPaddedBatchesWithExplicitPositionsMatchOurEngine(string name)
    {
        DecoderLM ours = Fixtures.Managed(name);
        TorchDecoderLM torchModel = TorchWeights.ToTorch(ours);
        int[][] ids = Fixtures.RandomIds(3, 7, ours.Config.VocabSize, 11);
        int[] pads = [0, 2, 5];
        float[] mask = pads.SelectMany(p => Enumerable.Range(0, 7).Select(t => t < p ? 0f : 1f)).ToArray();
        int[] positions = pads.SelectMany(p => Enumerable.Range(0, 7).Select(t => Math.Max(0, t - p))).ToArray();

        float[] got = Fixtures.TorchLogits(torchModel, ids, mask, positions);
        float[] want = Fixtures.ManagedLogits(ours, ids, mask, positions);

        Assert.That(got.All(float.IsFinite), Is.True, "padding rows see no key: zeros from attention, not NaN");
        Assert.That(Fixtures.MaxAbsDiff(got, want), Is.LessThanOrEqualTo(1e-4));
    }

    [Test]
    public void AModelChangedOnTorchSharpAndSavedLoadsOnOurEngineWithTheSameLogits()
    {
        (TorchDecoderLM model, _) = TorchWeights.Load(Fixtures.Folder("qwen2"));
        using (no_grad())
        {
            // Move every weight, so that a name or layout mix-up cannot pass unnoticed.
            manual_seed(5);
            foreach (var p in model.parameters())
            {
                p.add_(randn_like(p) * 0.05);
            }
        }

        int[][] ids = Fixtures.RandomIds(2, 6, model.Config.VocabSize, 3);
        string dir = Path.Combine(Path.GetTempPath(), "calrec-torch-" + Guid.NewGuid().ToString("N"));
        try
        {
            TorchWeights.Save(model, null, dir);
            (DecoderLM reloaded, _) = HuggingFaceCheckpoint.Load(dir);
            reloaded.eval();
            double diff = Fixtures.MaxAbsDiff(Fixtures.ManagedLogits(reloaded, ids), Fixtures.TorchLogits(model, ids));
            Assert.That(diff, Is.LessThanOrEqualTo(1e-4));
            Assert.That(Fixtures.MaxAbsDiff(Fixtures.ManagedLogits(reloaded, ids), Fixtures.ManagedLogits(Fixtures.Managed("qwen2"), ids)), Is.GreaterThan(1e-2),
                "the changed weights travelled, not the fixture's");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [TestCaseSource(typeof(Fixtures), nameof(Fixtures.Names))]
    public void GreedyAndBeamGenerationGiveOurEnginesTokenIds(string name)
    {
        DecoderLM ours = Fixtures.Managed(name);
        TorchDecoderLM torchModel = TorchWeights.ToTorch(ours);
        int[][] prompts = [[5, 9, 2, 7, 1], [3, 8], [4, 4, 6]];
        static string Decode(IEnumerable<int> ids) => string.Join(' ', ids);

        foreach (GenerationOptions options in (GenerationOptions[])[
            new() { Strategy = DecodingStrategy.Greedy, MaxNewTokens = 10 },
            new() { Strategy = DecodingStrategy.BeamSearch, NumBeams = 3, NumReturnSequences = 2, MaxNewTokens = 6 }])
        {
            using var managedSteps = new DecoderStepModel(ours);
            using var torchSteps = new TorchStepModel(torchModel);
            var want = new SequenceGenerator(managedSteps, Decode).Generate(prompts, options);
            var got = new SequenceGenerator(torchSteps, Decode).Generate(prompts, options);
            Assert.That(got.Select(r => r.Select(s => s.TokenIds)), Is.EqualTo(want.Select(r => r.Select(s => s.TokenIds))), $"{options.Strategy}");
            Assert.That(got.SelectMany(r => r.Select(s => s.LogProb)), Is.EqualTo(want.SelectMany(r => r.Select(s => s.LogProb))).Within(1e-3));
        }
    }
}
