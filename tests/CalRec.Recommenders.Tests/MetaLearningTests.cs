using CalRec.Recommenders.MetaLearning;
using CalRec.Tensors;
using CalRec.Tensors.Memory;
using CalRec.Tensors.NN;
using F = CalRec.Tensors.Functional;

namespace CalRec.Recommenders.Tests;

[TestFixture]
public class MetaLearningTests
{
    /// <summary>A 1-40-40-1 ReLU network for sine-wave regression (the Reptile and MAML papers' toy problem).</summary>
    private sealed class SineNet
    {
        private readonly LinearLayer _l1, _l2, _l3;

        public SineNet(ulong seed)
        {
            var g = new SeededRandom(seed);
            _l1 = new LinearLayer(1, 40, true, g, 1f);
            _l2 = new LinearLayer(40, 40, true, g, 1f / MathF.Sqrt(40));
            _l3 = new LinearLayer(40, 1, true, g, 1f / MathF.Sqrt(40));
        }

        public IReadOnlyList<ManagedTensor> Parameters => [.. _l1.parameters(), .. _l2.parameters(), .. _l3.parameters()];

        public ManagedTensor Loss(float[] x, float[] y)
        {
            ManagedTensor h = F.relu(_l2.forward(F.relu(_l1.forward(ManagedTensor.from(x, x.Length, 1)))));
            ManagedTensor diff = _l3.forward(h).sub(ManagedTensor.from(y, y.Length, 1));
            return diff.mul(diff).mean();
        }
    }

    private sealed record SineTask(float Amplitude, float Phase)
    {
        public (float[] X, float[] Y) Sample(SeededRandom g, int n)
        {
            float[] x = new float[n], y = new float[n];
            for (int i = 0; i < n; i++)
            {
                x[i] = (float)((g.NextDouble() * 10) - 5);
                y[i] = Amplitude * MathF.Sin(x[i] + Phase);
            }

            return (x, y);
        }

        public static SineTask Draw(SeededRandom g) => new((float)(0.1 + (g.NextDouble() * 4.9)), (float)(g.NextDouble() * Math.PI));
    }

    /// <summary>Mean query loss on new tasks after <paramref name="steps"/> SGD steps from the net's current weights.</summary>
    private static double PostAdaptationLoss(SineNet net, int tasks, int steps, float lr)
    {
        var g = new SeededRandom(999);
        float[][] initial = net.Parameters.Select(p => p.Data.ToArray()).ToArray();
        double total = 0;
        for (int t = 0; t < tasks; t++)
        {
            SineTask task = SineTask.Draw(g);
            (float[] sx, float[] sy) = task.Sample(g, 10);
            (float[] qx, float[] qy) = task.Sample(g, 50);
            var adapt = new MetaLearner(net.Parameters, new MetaLearningOptions { InnerSteps = steps, InnerLearningRate = lr, OuterLearningRate = 1f });
            adapt.Step([() => net.Loss(sx, sy)]); // ε = 1: the initialization becomes the adapted weights
            using (TensorScope.Begin())
            {
                total += net.Loss(qx, qy).item();
            }

            for (int i = 0; i < initial.Length; i++)
            {
                initial[i].CopyTo(net.Parameters[i].Data);
            }
        }

        return total / tasks;
    }

    [Test]
    public void ReptileInitializationAdaptsToNewTasksBetterThanJointMultiTaskTraining()
    {
        const int OuterSteps = 1500, InnerSteps = 5;
        const float InnerLr = 0.02f;

        var reptileNet = new SineNet(seed: 1);
        var reptile = new MetaLearner(reptileNet.Parameters, new MetaLearningOptions { Algorithm = MetaAlgorithm.Reptile, InnerSteps = InnerSteps, InnerLearningRate = InnerLr, OuterLearningRate = 1f });
        var g = new SeededRandom(5);
        for (int step = 0; step < OuterSteps; step++)
        {
            SineTask task = SineTask.Draw(g);
            var batches = Enumerable.Range(0, InnerSteps).Select(_ => task.Sample(g, 10)).ToList();
            reptile.Step(batches.Select(b => (Func<ManagedTensor>)(() => reptileNet.Loss(b.X, b.Y))).ToList(), outerScale: 1f - ((float)step / OuterSteps));
        }

        // Joint training: the same number of SGD steps, each on a batch from a freshly drawn task.
        var jointNet = new SineNet(seed: 1);
        var joint = new MetaLearner(jointNet.Parameters, new MetaLearningOptions { InnerSteps = 1, InnerLearningRate = InnerLr, OuterLearningRate = 1f });
        g = new SeededRandom(5);
        for (int step = 0; step < OuterSteps * InnerSteps; step++)
        {
            (float[] x, float[] y) = SineTask.Draw(g).Sample(g, 10);
            joint.Step([() => jointNet.Loss(x, y)]);
        }

        double reptileLoss = PostAdaptationLoss(reptileNet, 40, 5, InnerLr);
        double jointLoss = PostAdaptationLoss(jointNet, 40, 5, InnerLr);
        TestContext.Out.WriteLine($"query MSE after 5 adaptation steps: Reptile {reptileLoss:F3}, joint multi-task {jointLoss:F3}");
        Assert.That(reptileLoss, Is.LessThan(jointLoss * 0.9), "Reptile should find an initialization that adapts faster");
    }

    [Test]
    public void FirstOrderMamlStepsTheInitializationAlongTheQueryGradientAtTheAdaptedWeights()
    {
        // One parameter w, support loss (w - 2)^2, query loss (w - 3)^2: one inner SGD step of lr 0.25 gives
        // φ = w - 0.5(w - 2); the first-order update follows d/dφ (φ - 3)^2 = 2(φ - 3), with AdamW's first step size lr·sign.
        var w = ManagedTensor.from([0f], 1);
        w.requires_grad = true;
        var maml = new MetaLearner([w], new MetaLearningOptions { Algorithm = MetaAlgorithm.FirstOrderMaml, InnerSteps = 1, InnerLearningRate = 0.25f, OuterLearningRate = 0.1f });
        Func<ManagedTensor> Square(float target) => () => w.sub(ManagedTensor.from([target], 1)).mul(w.sub(ManagedTensor.from([target], 1))).sum();
        (float support, float? query) = maml.Step([Square(2f)], Square(3f));
        Assert.That(support, Is.EqualTo(4f).Within(1e-5), "support loss at w = 0");
        Assert.That(query, Is.EqualTo(4f).Within(1e-5), "query loss at φ = 1");
        Assert.That(w.Data[0], Is.EqualTo(0.1f).Within(1e-4), "θ moves from 0 by +lr (query gradient at φ is negative)");
        for (int i = 0; i < 300; i++)
        {
            maml.Step([Square(2f)], Square(3f));
        }

        // The fixed point: φ(θ) = 3, i.e. θ - 0.5(θ - 2) = 3, θ = 4.
        Assert.That(w.Data[0], Is.EqualTo(4f).Within(0.15f));
        Assert.That(() => maml.Step([Square(2f)]), Throws.ArgumentException.With.Message.Contains("query"));
    }
}
