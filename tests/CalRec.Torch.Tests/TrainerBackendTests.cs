using CalRec.Models.Configuration;
using CalRec.Models.Decoder;
using CalRec.Models.Training;
using CalRec.Torch.Decoder;
using CalRec.Torch.Training;

namespace CalRec.Torch.Tests;

/// <summary>
/// <see cref="CausalLmTrainer"/> (one loop: batches, order, schedule, clipping, validation, checkpoints) on both engines
/// through <see cref="ICausalLmBackend"/>.
/// </summary>
public sealed class TrainerBackendTests
{
    internal static readonly DecoderConfig Config = new()
    {
        Architecture = DecoderArchitecture.Llama,
        VocabSize = 64,
        HiddenSize = 32,
        NumLayers = 2,
        NumHeads = 4,
        NumKeyValueHeads = 2,
        IntermediateSize = 64,
        MaxPositions = 64,
    };

    internal static readonly CausalLmTrainerOptions Options = new() { Steps = 24, BatchSize = 8, LearningRate = 1e-2f, WarmupSteps = 3, EvalEvery = 8, Seed = 4 };

    internal static (PackedTokenDataset Train, PackedTokenDataset Validation) Data()
    {
        var docs = Enumerable.Range(0, 60).Select(i => (IReadOnlyList<int>)Enumerable.Range(0, 20).Select(j => (i % 5) + (j % 7) + 1).ToList()).ToList();
        return (new PackedTokenDataset(docs.Take(50), 0, 16), new PackedTokenDataset(docs.Skip(50), 0, 16));
    }

    [Test]
    public void BothEnginesFollowTheSameLossCurveFromTheSameWeights()
    {
        (PackedTokenDataset train, PackedTokenDataset validation) = Data();
        var managed = new DecoderLM(Config, seed: 1);
        TorchDecoderLM torchModel = TorchWeights.ToTorch(managed);

        var managedTrainer = new CausalLmTrainer(managed, Options);
        var torchTrainer = new CausalLmTrainer(new TorchCausalLmBackend(torchModel, Options.LearningRate, Options.WeightDecay), Options);
        float initial = torchTrainer.Evaluate(validation);
        Assert.That(initial, Is.EqualTo(managedTrainer.Evaluate(validation)).Within(1e-4));
        List<LmStepReport> want = Steps(managedTrainer, train, validation);
        List<LmStepReport> got = Steps(torchTrainer, train, validation);

        Assert.That(got.Select(r => r.LearningRate), Is.EqualTo(want.Select(r => r.LearningRate)));
        for (int i = 0; i < want.Count; i++)
        {
            Assert.That(got[i].Loss, Is.EqualTo(want[i].Loss).Within(2e-3 * want[i].Loss), $"step {i + 1}");
        }

        Assert.That(got[^1].ValidationLoss, Is.EqualTo(want[^1].ValidationLoss!.Value).Within(0.01 * want[^1].ValidationLoss!.Value));
        Assert.That(got[^1].ValidationLoss, Is.LessThan(initial * 0.6), "and it learned the repetitive text");
    }

    [TestCase(false)]
    [TestCase(true)]
    public void GradientAccumulationTakesTheSameStepsAsWholeBatches(bool torchSharp)
    {
        (PackedTokenDataset train, PackedTokenDataset validation) = Data();
        var start = new DecoderLM(Config, seed: 3);
        List<(List<LmStepReport> Steps, float[] Weights)> runs = [];
        foreach (int parts in new[] { 1, 3 })
        {
            var model = new DecoderLM(Config, seed: 3);
            TorchDecoderLM? torchModel = torchSharp ? TorchWeights.ToTorch(model) : null;
            ICausalLmBackend backend = torchModel is null ? new ManagedCausalLmBackend(model, Options.LearningRate, Options.WeightDecay)
                : new TorchCausalLmBackend(torchModel, Options.LearningRate, Options.WeightDecay);
            List<LmStepReport> steps = Steps(new CausalLmTrainer(backend, Options with { Steps = 6, AccumulationSteps = parts }), train, validation);
            if (torchModel is not null)
            {
                TorchWeights.CopyInto(torchModel, model);
            }

            runs.Add((steps, model.parameters().SelectMany(p => p.ToArray()).ToArray()));
        }

        // Three micro-batches of 2-3 windows each: the same losses and weights as batches of 8, up to summation order.
        Assert.That(runs[1].Steps.Select(r => r.Loss), Is.EqualTo(runs[0].Steps.Select(r => r.Loss)).Within(1e-4));
        Assert.That(Fixtures.MaxAbsDiff(runs[1].Weights, runs[0].Weights), Is.LessThanOrEqualTo(1e-4));
        Assert.That(() => new CausalLmTrainer(start, Options with { AccumulationSteps = 9 }), Throws.ArgumentException.With.Message.Contains("between 1 and the batch size"));
    }

    [Test]
    public void ATorchSharpRunCheckpointedHalfwayResumesToTheSameLosses()
    {
        (PackedTokenDataset train, PackedTokenDataset validation) = Data();
        var start = new DecoderLM(Config, seed: 2);
        List<LmStepReport> whole = Steps(new CausalLmTrainer(new TorchCausalLmBackend(TorchWeights.ToTorch(start), Options.LearningRate, Options.WeightDecay), Options), train, validation);

        string dir = Path.Combine(Path.GetTempPath(), "calrec-torch-ckpt-" + Guid.NewGuid().ToString("N"));
        try
        {
            var first = new CausalLmTrainer(new TorchCausalLmBackend(TorchWeights.ToTorch(start), Options.LearningRate, Options.WeightDecay), Options);
            var cancel = new CancellationTokenSource();
            first.Progress += (_, r) =>
            {
                if (r.Step == 10)
                {
                    cancel.Cancel();
                }
            };
            // Cancelled between steps 10 and 11: the loop writes the checkpoint there and throws.
            Assert.That(() => first.Train(train, validation, cancel.Token, new CausalLmCheckpointing(t => t.SaveCheckpoint(dir, tokenizer: null))),
                Throws.InstanceOf<OperationCanceledException>());
            (TorchDecoderLM reloaded, _) = TorchWeights.Load(dir);
            CausalLmTrainerOptions saved = CausalLmTrainerOptions.FromCheckpoint(dir);
            Assert.That(saved, Is.EqualTo(Options), "the checkpoint carries the run's settings");
            var resumed = new CausalLmTrainer(new TorchCausalLmBackend(reloaded, saved.LearningRate, saved.WeightDecay), saved);
            resumed.RestoreCheckpoint(dir);
            List<LmStepReport> rest = Steps(resumed, train, validation);

            Assert.That(rest.Select(r => r.Step), Is.EqualTo(Enumerable.Range(11, Options.Steps - 10)));
            Assert.That(rest.Select(r => r.Loss), Is.EqualTo(whole.Skip(10).Select(r => r.Loss)).Within(1e-5));
            Assert.That(() => new CausalLmTrainer(new DecoderLM(Config), Options).RestoreCheckpoint(dir),
                Throws.InstanceOf<InvalidDataException>().With.Message.Contains("torchsharp backend"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    // Every step's report of one training call.
    private static List<LmStepReport> Steps(CausalLmTrainer trainer, PackedTokenDataset train, PackedTokenDataset validation)
    {
        var steps = new List<LmStepReport>();
        trainer.Progress += (_, r) => steps.Add(r);
        trainer.Train(train, validation);
        return steps;
    }
}
