using CalRec.Tensors.Memory;
using CalRec.Tensors.NN;
using CalRec.Tensors.Optim;

namespace CalRec.Tensors.Tests;

[TestFixture]
public class ModuleAndOptimizerTests
{
    private sealed class Block : NeuralModule
    {
        public Block(SeededRandom g)
        {
            Norm = RegisterModule("norm", new RMSNorm(4));
            Layers = RegisterModule("layers", new NeuralModuleList<LinearLayer>());
            Layers.Add(new LinearLayer(4, 3, bias: true, g));
            Layers.Add(new LinearLayer(3, 2, bias: false, g));
        }

        public RMSNorm Norm { get; }

        public NeuralModuleList<LinearLayer> Layers { get; }
    }

    [Test]
    public void NamedParametersUseDottedHuggingFaceNames()
    {
        var m = new Block(new SeededRandom(1));
        Assert.That(m.named_parameters().Select(p => p.Name), Is.EqualTo(new[]
        {
            "norm.weight", "layers.0.weight", "layers.0.bias", "layers.1.weight",
        }));
        Assert.That(m.parameter_count(), Is.EqualTo(4 + 12 + 3 + 6));
    }

    [Test]
    public void EvalScopeRestoresTheModeItFoundInEverySubmodule()
    {
        var m = new Block(new SeededRandom(1));
        using (m.EvalScope())
        {
            Assert.That(m.training || m.Norm.training || m.Layers[1].training, Is.False);
        }

        Assert.That(m.training && m.Norm.training && m.Layers[1].training, Is.True);

        m.eval();
        using (m.EvalScope())
        {
            m.train();
        }

        Assert.That(m.training || m.Layers[0].training, Is.False, "an evaluating module stays evaluating after the scope");
        Assert.That(() =>
        {
            m.train();
            using NeuralModule.ModeScope scope = m.EvalScope();
            throw new InvalidOperationException("boom");
        }, Throws.InvalidOperationException);
        Assert.That(m.training, Is.True, "the mode is restored when the body throws");
    }

    [Test]
    public void StrictLoadReportsMissingAndUnexpectedNames()
    {
        var src = new Block(new SeededRandom(1));
        var dst = new Block(new SeededRandom(2));
        Dictionary<string, ManagedTensor> sd = src.state_dict();
        dst.load_state_dict(sd);
        Assert.That(dst.Layers[0].weight.ToArray(), Is.EqualTo(src.Layers[0].weight.ToArray()));

        sd.Remove("layers.0.bias");
        sd["extra.weight"] = ManagedTensor.zeros(1);
        var ex = Assert.Throws<InvalidDataException>(() => dst.load_state_dict(sd));
        Assert.That(ex!.Message, Does.Contain("missing keys [layers.0.bias]").And.Contain("unexpected keys [extra.weight]"));
        LoadStateDictResult loose = dst.load_state_dict(sd, strict: false);
        Assert.That(loose.MissingKeys, Is.EqualTo(new[] { "layers.0.bias" }));
        Assert.That(loose.UnexpectedKeys, Is.EqualTo(new[] { "extra.weight" }));

        sd["layers.0.bias"] = ManagedTensor.zeros(5);
        Assert.That(Assert.Throws<InvalidDataException>(() => dst.load_state_dict(sd, strict: false))!.Message,
            Does.Contain("'layers.0.bias' has shape [5]").And.Contain("[3] in the model"));
    }

    [Test]
    public void AdamWMatchesHandComputedSteps()
    {
        using var p = ManagedTensor.from([0.5f, -1f], 1, 2);
        using var bias = ManagedTensor.from([2f], 1);
        p.requires_grad = true;
        bias.requires_grad = true;
        var opt = new AdamWOptimizer(AdamWOptimizer.DecayGroups([p, bias], 0.1f), lr: 0.01f);
        double[] m = new double[2], v = new double[2];
        double[] x = [0.5, -1];
        for (int step = 1; step <= 3; step++)
        {
            float[] g = [0.3f * step, -0.2f];
            p.zero_grad();
            using (TensorScope.Begin())
            {
                ManagedTensor.from(g, 1, 2).mul(p).sum().backward();
            }

            opt.step();
            for (int i = 0; i < 2; i++)
            {
                m[i] = (0.9 * m[i]) + (0.1 * g[i]);
                v[i] = (0.999 * v[i]) + (0.001 * g[i] * g[i]);
                double mh = m[i] / (1 - Math.Pow(0.9, step)), vh = v[i] / (1 - Math.Pow(0.999, step));
                x[i] = (x[i] * (1 - (0.01 * 0.1))) - (0.01 * mh / (Math.Sqrt(vh) + 1e-8));
            }
        }

        Assert.That(p.Data[0], Is.EqualTo(x[0]).Within(1e-5));
        Assert.That(p.Data[1], Is.EqualTo(x[1]).Within(1e-5));
        Assert.That(bias.Data[0], Is.EqualTo(2f), "bias had no gradient: untouched, and its group has no decay");
    }

    [Test]
    public void ClipGradNormScalesToMaxNorm()
    {
        using var a = ManagedTensor.from([3f], 1);
        using var b = ManagedTensor.from([4f], 1);
        a.requires_grad = b.requires_grad = true;
        using (TensorScope.Begin())
        {
            a.mul(a).mul(0.5f).sum().add(b.mul(b).mul(0.5f).sum()).backward();
        }

        float norm = GradientClipping.clip_grad_norm_([a, b], 1f);
        Assert.That(norm, Is.EqualTo(5f).Within(1e-5));
        Assert.That(a.grad!.Data[0], Is.EqualTo(0.6f).Within(1e-4));
        Assert.That(b.grad!.Data[0], Is.EqualTo(0.8f).Within(1e-4));
    }

    [Test]
    public void ScheduleWarmsUpThenDecays()
    {
        var s = new LearningRateSchedule(1f, WarmupSteps: 10, TotalSteps: 110, DecayKind.Cosine, MinRatio: 0.1f);
        Assert.That(s.At(0), Is.EqualTo(0.1f).Within(1e-6));
        Assert.That(s.At(9), Is.EqualTo(1f).Within(1e-6));
        Assert.That(s.At(60), Is.EqualTo(0.55f).Within(1e-5));
        Assert.That(s.At(110), Is.EqualTo(0.1f).Within(1e-6));
        var lin = s with { Decay = DecayKind.Linear };
        Assert.That(lin.At(35), Is.EqualTo(1f - (0.9f * 0.25f)).Within(1e-5));
    }

    [Test]
    public void GradientAccumulationOfHalvesEqualsFullBatch()
    {
        var gen = new SeededRandom(9);
        using ManagedTensor w = ManagedTensor.randn(gen, 1f, 3, 4);
        using ManagedTensor x = ManagedTensor.randn(gen, 1f, 6, 4);
        w.requires_grad = true;
        using (TensorScope.Begin())
        {
            Functional.linear(x, w).mul(Functional.linear(x, w)).mean().backward();
        }

        float[] full = w.grad!.ToArray();
        w.zero_grad();
        using (TensorScope.Begin())
        {
            for (int half = 0; half < 2; half++)
            {
                ManagedTensor xs = Functional.slice(x, 0, half * 3, 3);
                Functional.linear(xs, w).mul(Functional.linear(xs, w)).mean().mul(0.5f).backward();
            }
        }

        Assert.That(w.grad!.ToArray(), Is.EqualTo(full).Within(1e-5));
    }
}
