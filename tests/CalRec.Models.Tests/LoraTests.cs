using CalRec.Models.Adapters;
using CalRec.Models.Decoder;
using CalRec.Tensors;
using CalRec.Tensors.Autograd;
using CalRec.Tensors.Memory;
using CalRec.Tensors.Optim;
using CalRec.Tensors.Serialization;

namespace CalRec.Models.Tests;

[TestFixture]
public class LoraTests
{
    private static readonly int[] Ids = [1, 7, 3, 9, 4, 4, 2, 8];
    private static readonly int[] Targets = [7, 3, 9, 4, 4, 2, 8, 5];

    // Large initial weights: the frozen output head must be able to express a peaked distribution (with std 0.02 behind
    // a frozen final RMSNorm every logit stays below ~0.3 and nothing, adapted or not, could fit the sequence).
    private static readonly Configuration.DecoderConfig Base = DecoderTests.Llama with { InitializerRange = 0.5f };

    private static (DecoderLM Model, IReadOnlyList<ManagedTensor> Trainable) TrainedWithLora(LoraConfig config)
    {
        var model = new DecoderLM(Base, seed: 21);
        IReadOnlyList<ManagedTensor> trainable = LoraAdapters.Apply(model, config, seed: 4);
        var opt = new AdamWOptimizer([new ParameterGroup(trainable, 0f)], lr: 5e-2f);
        for (int i = 0; i < 30; i++)
        {
            using TensorScope scope = TensorScope.Begin();
            opt.zero_grad();
            model.Loss(Ids, Targets, 1, Ids.Length).backward();
            opt.step();
        }

        return (model, trainable);
    }

    [Test]
    public void OnlyAdaptersTrainAndTheBaseStaysBitIdentical()
    {
        var reference = new DecoderLM(Base, seed: 21);
        var baseBefore = reference.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.ToArray());
        var config = new LoraConfig { Rank = 4, Alpha = 8, Dropout = 0f, TargetModules = ["q_proj", "v_proj", "down_proj"] };
        (DecoderLM model, IReadOnlyList<ManagedTensor> trainable) = TrainedWithLora(config);
        Assert.That(trainable, Has.Count.EqualTo(2 * 3 * DecoderTests.Llama.NumLayers));
        foreach ((string name, ManagedTensor p) in model.named_parameters())
        {
            if (name.Contains(".lora_", StringComparison.Ordinal))
            {
                continue;
            }

            Assert.That(p.ToArray(), Is.EqualTo(baseBefore[name]), name);
            Assert.That(p.grad, Is.Null, $"{name} is frozen: no gradient is ever computed for it");
        }

        Assert.That(Loss(model), Is.LessThan(Loss(reference) * 0.5), "the adapters alone fit the sequence");
    }

    [Test]
    public void MergedAndUnmergedOutputsAreEqual()
    {
        (DecoderLM model, _) = TrainedWithLora(new LoraConfig { Rank = 2, Alpha = 4, Dropout = 0.1f });
        float[] unmerged = Logits(model);
        LoraAdapters.Merge(model);
        Assert.That(model.state_dict().Keys.Any(k => k.Contains("lora", StringComparison.Ordinal)), Is.False);
        float[] merged = Logits(model);
        Assert.That(merged.Zip(unmerged, (a, b) => Math.Abs(a - b)).Max(), Is.LessThan(1e-4));
    }

    [Test]
    public void AdapterRoundTripInPeftLayout()
    {
        var config = new LoraConfig { Rank = 4, Alpha = 16, Dropout = 0f, TargetModules = ["q_proj", "v_proj"] };
        (DecoderLM model, _) = TrainedWithLora(config);
        string dir = Path.Combine(Path.GetTempPath(), "calrec-lora-" + Guid.NewGuid().ToString("N"));
        try
        {
            LoraAdapters.Save(model, config, dir);
            using (var r = new SafeTensorsReader(Path.Combine(dir, "adapter_model.safetensors")))
            {
                Assert.That(r.Names, Does.Contain("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"));
                Assert.That(r.GetInfo("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight").Shape, Is.EqualTo(new[] { 8, 4 }));
                Assert.That(r.Names.Count, Is.EqualTo(2 * 2 * DecoderTests.Llama.NumLayers), "adapters only, no base weights");
            }

            var fresh = new DecoderLM(Base, seed: 21);
            LoraConfig loaded = LoraAdapters.Load(fresh, dir);
            Assert.That(loaded with { TargetModules = config.TargetModules }, Is.EqualTo(config));
            Assert.That(loaded.TargetModules, Is.EqualTo(config.TargetModules));
            Assert.That(Logits(fresh), Is.EqualTo(Logits(model)));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static float Loss(DecoderLM model)
    {
        using TensorScope scope = TensorScope.Begin();
        using var noGrad = Tape.no_grad();
        model.eval();
        return model.Loss(Ids, Targets, 1, Ids.Length).item();
    }

    private static float[] Logits(DecoderLM model)
    {
        using TensorScope scope = TensorScope.Begin();
        using var noGrad = Tape.no_grad();
        model.eval();
        return model.Logits(model.Hidden(Ids, 1, Ids.Length)).ToArray();
    }
}
