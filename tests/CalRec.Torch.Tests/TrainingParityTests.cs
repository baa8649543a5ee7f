using CalRec.Models.Decoder;
using CalRec.Tensors;
using CalRec.Tensors.Memory;
using CalRec.Tensors.Optim;
using CalRec.Torch.Decoder;
using CalRec.Torch.Training;
using static TorchSharp.torch;

namespace CalRec.Torch.Tests;

/// <summary>One training step on both engines from the same weights: loss, gradients, and the AdamW update.</summary>
public sealed class TrainingParityTests
{
    [TestCaseSource(typeof(Fixtures), nameof(Fixtures.Names))]
    public void LossAndGradientsOfACausalLmStepMatchOurEngine(string name)
    {
        DecoderLM ours = Fixtures.Managed(name);
        TorchDecoderLM torchModel = TorchWeights.ToTorch(ours);
        (int[] ids, int[] targets) = Batch(ours.Config.VocabSize);

        (float managedLoss, Dictionary<string, float[]> managedGrads) = ManagedStep(ours, ids, targets);
        torchModel.train();
        Tensor loss = torchModel.Loss(tensor(ids.Select(i => (long)i).ToArray(), [2, 8]), tensor(targets.Select(i => (long)i).ToArray(), [2, 8]));
        loss.backward();

        Assert.That(loss.item<float>(), Is.EqualTo(managedLoss).Within(1e-4 * Math.Abs(managedLoss)));
        foreach (var (n, p) in torchModel.named_parameters())
        {
            float[] g = p.grad!.contiguous().data<float>().ToArray();
            float[] want = managedGrads[n];
            double scale = Math.Max(1e-6, want.Max(Math.Abs));
            Assert.That(Fixtures.MaxAbsDiff(g, want) / scale, Is.LessThanOrEqualTo(1e-4), n);
        }
    }

    [TestCaseSource(typeof(Fixtures), nameof(Fixtures.Names))]
    public void OneAdamWStepFromTheSameGradientsMatchesOurEngine(string name)
    {
        DecoderLM ours = Fixtures.Managed(name);
        TorchDecoderLM torchModel = TorchWeights.ToTorch(ours);
        (int[] ids, int[] targets) = Batch(ours.Config.VocabSize);
        (_, Dictionary<string, float[]> grads) = ManagedStep(ours, ids, targets, step: true);

        // The optimizer alone: TorchSharp's AdamW fed our gradients, configured through TorchAdamW.
        var optimizer = TorchAdamW.Create(torchModel, learningRate: 1e-2, weightDecay: 0.1, beta1: 0.9, beta2: 0.95);
        foreach (var (n, p) in torchModel.named_parameters())
        {
            p.grad = tensor(grads[n], p.shape);
        }

        optimizer.step();
        var torchWeights = torchModel.named_parameters().ToDictionary(x => x.name, x => x.parameter.detach().contiguous().data<float>().ToArray());
        foreach ((string n, ManagedTensor p) in ours.named_parameters())
        {
            Assert.That(Fixtures.MaxAbsDiff(torchWeights[n], p.ToArray()), Is.LessThanOrEqualTo(1e-5), n);
        }
    }

    [Test]
    public void TorchSharpsAdamWDefaultDecayIsZeroSoOursPassesItExplicitly()
    {
        TorchDecoderLM model = TorchWeights.ToTorch(Fixtures.Managed("gpt2"));
        using (no_grad())
        {
            foreach (var p in model.parameters())
            {
                p.grad = zeros_like(p);
            }
        }

        Tensor before = model.TokenEmbedding.detach().clone();
        TorchAdamW.Create(model, learningRate: 0.1, weightDecay: 0.5).step();
        // With zero gradients only decoupled weight decay moves the weights: w · (1 - lr · wd).
        Assert.That((model.TokenEmbedding.detach() - (before * 0.95)).abs().max().item<float>(), Is.LessThan(1e-6f));
    }

    private static (int[] Ids, int[] Targets) Batch(int vocabulary)
    {
        int[] ids = Fixtures.RandomIds(2, 8, vocabulary, 21).SelectMany(r => r).ToArray();
        int[] targets = ids.Skip(1).Append(-100).ToArray();
        targets[7] = -100;
        targets[3] = -100;
        return (ids, targets);
    }

    private static (float Loss, Dictionary<string, float[]> Grads) ManagedStep(DecoderLM model, int[] ids, int[] targets, bool step = false)
    {
        model.train();
        var optimizer = new AdamWOptimizer(AdamWOptimizer.DecayGroups(model.parameters(), 0.1f), 1e-2f, 0.9f, 0.95f);
        optimizer.zero_grad();
        using TensorScope scope = TensorScope.Begin();
        ManagedTensor loss = model.Loss(ids, targets, 2, 8);
        float value = loss.item();
        loss.backward();
        var grads = model.named_parameters().ToDictionary(x => x.Name, x => x.Parameter.grad!.ToArray());
        if (step)
        {
            optimizer.step();
        }

        model.eval();
        return (value, grads);
    }
}
