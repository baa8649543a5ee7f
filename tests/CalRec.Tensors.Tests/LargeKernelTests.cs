using CalRec.Tensors.Memory;
using F = CalRec.Tensors.Functional;

namespace CalRec.Tensors.Tests;

/// <summary>The vectorized, multi-threaded paths (large tensors) agree with scalar formulas.</summary>
[TestFixture]
public class LargeKernelTests
{
    [Test]
    public void GeluAndSwiGluForwardBackwardMatchScalarFormulas()
    {
        using TensorScope scope = TensorScope.Begin();
        const int n = 100_003;
        ManagedTensor x = ManagedTensor.rand(new SeededRandom(1), -6f, 6f, n);
        ManagedTensor u = ManagedTensor.rand(new SeededRandom(2), -2f, 2f, n);
        x.requires_grad = u.requires_grad = true;
        F.gelu(x).sum().add(F.swiglu(x, u).sum()).backward();
        ManagedTensor gy = F.gelu(x.detach());
        for (int i = 0; i < n; i += 997)
        {
            double v = x.Data[i], uv = u.Data[i];
            double th = Math.Tanh(Math.Sqrt(2 / Math.PI) * (v + (0.044715 * v * v * v)));
            double gelu = 0.5 * v * (1 + th);
            double dgelu = (0.5 * (1 + th)) + (0.5 * v * (1 - (th * th)) * Math.Sqrt(2 / Math.PI) * (1 + (3 * 0.044715 * v * v)));
            double s = 1 / (1 + Math.Exp(-v));
            double dsilu = s * (1 + (v * (1 - s)));
            Assert.That(gy.Data[i], Is.EqualTo(gelu).Within(1e-5 + (1e-5 * Math.Abs(gelu))), $"gelu({v})");
            Assert.That(x.grad!.Data[i], Is.EqualTo(dgelu + (uv * dsilu)).Within(1e-4), $"dx at {v}");
            Assert.That(u.grad!.Data[i], Is.EqualTo(v * s).Within(1e-4), $"du at {v}");
        }
    }

    [Test]
    public void WideCrossEntropyMatchesScalarReference()
    {
        using TensorScope scope = TensorScope.Begin();
        const int rows = 37, classes = 5003;
        ManagedTensor logits = ManagedTensor.randn(new SeededRandom(3), 3f, rows, classes);
        logits.requires_grad = true;
        int[] targets = Enumerable.Range(0, rows).Select(i => i % 5 == 0 ? F.IgnoreIndex : (i * 131) % classes).ToArray();
        ManagedTensor loss = F.cross_entropy(logits, targets);
        loss.backward();
        double total = 0;
        int count = 0;
        for (int r = 0; r < rows; r++)
        {
            double max = double.MinValue, sum = 0;
            for (int j = 0; j < classes; j++)
            {
                max = Math.Max(max, logits.Data[(r * classes) + j]);
            }

            for (int j = 0; j < classes; j++)
            {
                sum += Math.Exp(logits.Data[(r * classes) + j] - max);
            }

            double lse = max + Math.Log(sum);
            if (targets[r] == F.IgnoreIndex)
            {
                Assert.That(logits.grad!.Data[(r * classes) + 7], Is.EqualTo(0f));
                continue;
            }

            count++;
            total += lse - logits.Data[(r * classes) + targets[r]];
            double p = Math.Exp(logits.Data[(r * classes) + targets[r]] - lse);
            Assert.That(logits.grad!.Data[(r * classes) + targets[r]], Is.EqualTo((p - 1) / (rows - 8)).Within(1e-6));
        }

        Assert.That(count, Is.EqualTo(rows - 8));
        Assert.That(loss.item(), Is.EqualTo(total / count).Within(1e-4));
    }
}
