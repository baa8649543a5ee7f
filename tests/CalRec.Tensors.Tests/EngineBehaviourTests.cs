using CalRec.Tensors.Autograd;
using CalRec.Tensors.Memory;

namespace CalRec.Tensors.Tests;

[TestFixture]
public class EngineBehaviourTests
{
    [Test]
    public void ShapeMismatchNamesOpAndBothShapes()
    {
        using var scope = TensorScope.Begin();
        var ex = Assert.Throws<ArgumentException>(() => ManagedTensor.zeros(2, 3).add(ManagedTensor.zeros(4, 5)));
        Assert.That(ex!.Message, Does.Contain("add").And.Contain("[2, 3]").And.Contain("[4, 5]"));
        ex = Assert.Throws<ArgumentException>(() => ManagedTensor.zeros(2, 3).matmul(ManagedTensor.zeros(4, 5)));
        Assert.That(ex!.Message, Does.Contain("matmul").And.Contain("[2, 3]").And.Contain("[4, 5]"));
        ex = Assert.Throws<ArgumentException>(() => Functional.linear(ManagedTensor.zeros(2, 3), ManagedTensor.zeros(4, 5)));
        Assert.That(ex!.Message, Does.Contain("linear").And.Contain("[2, 3]").And.Contain("[4, 5]"));
        Assert.Throws<ArgumentException>(() => ManagedTensor.zeros(6).reshape(4, -1));
    }

    [Test]
    public void NoGradRecordsNothingAndDetachCutsHistory()
    {
        using var scope = TensorScope.Begin();
        var w = ManagedTensor.ones(3);
        w.requires_grad = true;
        using (Tape.no_grad())
        {
            Assert.That(w.mul(2f).requires_grad, Is.False);
        }

        ManagedTensor d = w.mul(2f).detach();
        Assert.That(d.requires_grad, Is.False);
        Assert.Throws<InvalidOperationException>(() => d.sum().backward());
    }

    [Test]
    public void GradientsAccumulateAcrossBackwardCalls()
    {
        var w = ManagedTensor.from([2f], 1);
        w.requires_grad = true;
        for (int i = 0; i < 3; i++)
        {
            using var scope = TensorScope.Begin();
            w.mul(w).sum().backward();
        }

        Assert.That(w.grad!.Data[0], Is.EqualTo(12f));
        w.zero_grad();
        Assert.That(w.grad!.Data[0], Is.EqualTo(0f));
    }

    [Test]
    public void ScopeReturnsBuffersAndKeepsMovedTensors()
    {
        ManagedTensor kept;
        ManagedTensor dropped;
        using (TensorScope.Begin())
        {
            dropped = ManagedTensor.ones(1000);
            kept = ManagedTensor.ones(1000).MoveToOuterScope();
        }

        Assert.That(dropped.IsDisposed, Is.True);
        Assert.That(kept.IsDisposed, Is.False);
        Assert.That(kept.Data[999], Is.EqualTo(1f));
    }

    [Test]
    public void SameSeedSameStream()
    {
        var a = new SeededRandom(42);
        var b = new SeededRandom(42);
        Assert.That(Enumerable.Range(0, 10).Select(_ => a.NextUInt64()), Is.EqualTo(Enumerable.Range(0, 10).Select(_ => b.NextUInt64())));
        ulong[] state = a.GetState();
        ulong next = a.NextUInt64();
        b.SetState(state);
        Assert.That(b.NextUInt64(), Is.EqualTo(next));
    }

    [Test]
    public void OutOfRangeIdsAndTargetsAreClearErrors()
    {
        using var scope = TensorScope.Begin();
        var table = ManagedTensor.zeros(4, 2);
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => Functional.embedding([1, 9], [2], table))!.Message, Does.Contain("id 9 at position 1"));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => Functional.cross_entropy(ManagedTensor.zeros(2, 3), [0, 3]))!.Message, Does.Contain("target 3 at row 1"));
    }
}

[TestFixture]
[NonParallelizable]
public class BufferPoolTests
{
    [TestCase(1, 16)]
    [TestCase(17, 20)]
    [TestCase(1000, 1024)]
    [TestCase(1025, 1280)]
    [TestCase(1281, 1536)]
    [TestCase(77_000_000, 83_886_080)]
    public void SizeClassesWasteAtMostAQuarter(int length, int expected)
    {
        Assert.That(BufferPool.SizeClass(length), Is.EqualTo(expected));
        Assert.That(BufferPool.SizeClass(length), Is.LessThanOrEqualTo(Math.Max(16, length * 1.25)));
    }

    [Test]
    public void PoolNeverHoldsMoreThanItsCap()
    {
        long saved = BufferPool.MaxPooledBytes;
        try
        {
            BufferPool.Trim();
            BufferPool.MaxPooledBytes = 1 << 20;
            for (int i = 1; i < 200; i++)
            {
                BufferPool.Return(BufferPool.Rent(1000 * i, clear: false));
            }

            Assert.That(BufferPool.PooledBytes, Is.LessThanOrEqualTo(1 << 20));
            float[] again = BufferPool.Rent(1000, clear: true);
            Assert.That(again.AsSpan(0, 1000).ToArray(), Is.All.EqualTo(0f), "cleared on request");
        }
        finally
        {
            BufferPool.MaxPooledBytes = saved;
            BufferPool.Trim();
        }
    }
}
