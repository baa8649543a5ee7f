using System.Numerics.Tensors;
using CalRec.Tensors.Autograd;
using CalRec.Tensors.Memory;

namespace CalRec.Tensors;

public sealed partial class ManagedTensor
{
    private enum BinaryOp
    {
        Add,
        Sub,
        Mul,
        Div,
    }

    /// <summary>Elementwise sum with broadcasting.</summary>
    public ManagedTensor add(ManagedTensor other) => Binary(this, other, BinaryOp.Add, "add");

    /// <summary>Elementwise difference with broadcasting.</summary>
    public ManagedTensor sub(ManagedTensor other) => Binary(this, other, BinaryOp.Sub, "sub");

    /// <summary>Elementwise product with broadcasting.</summary>
    public ManagedTensor mul(ManagedTensor other) => Binary(this, other, BinaryOp.Mul, "mul");

    /// <summary>Elementwise quotient with broadcasting.</summary>
    public ManagedTensor div(ManagedTensor other) => Binary(this, other, BinaryOp.Div, "div");

    /// <summary>Multiplies every element by a constant.</summary>
    public ManagedTensor mul(float scale)
    {
        ManagedTensor x = this;
        ManagedTensor y = Result(_shape, clear: false, Tape.ShouldRecord(x));
        TensorPrimitives.Multiply(x.Data, scale, y.Data);
        if (y.requires_grad)
        {
            Tape.Record(y, () => TensorPrimitives.MultiplyAdd(y.grad!.Data, scale, x.GradSpan(), x.GradSpan()));
        }

        return y;
    }

    /// <summary>Adds a constant to every element.</summary>
    public ManagedTensor add(float value)
    {
        ManagedTensor x = this;
        ManagedTensor y = Result(_shape, clear: false, Tape.ShouldRecord(x));
        TensorPrimitives.Add(x.Data, value, y.Data);
        if (y.requires_grad)
        {
            Tape.Record(y, () => x.AccumulateGrad(y.grad!.Data));
        }

        return y;
    }

    /// <summary>Negation.</summary>
    public ManagedTensor neg() => mul(-1f);

    /// <summary>Elementwise exponential.</summary>
    public ManagedTensor exp()
    {
        ManagedTensor x = this;
        ManagedTensor y = Result(_shape, clear: false, Tape.ShouldRecord(x));
        TensorPrimitives.Exp(x.Data, y.Data);
        if (y.requires_grad)
        {
            Tape.Record(y, () => TensorPrimitives.FusedMultiplyAdd(y.grad!.Data, y.Data, x.GradSpan(), x.GradSpan()));
        }

        return y;
    }

    /// <summary>Elementwise natural logarithm.</summary>
    public ManagedTensor log()
    {
        ManagedTensor x = this;
        ManagedTensor y = Result(_shape, clear: false, Tape.ShouldRecord(x));
        TensorPrimitives.Log(x.Data, y.Data);
        if (y.requires_grad)
        {
            Tape.Record(y, () =>
            {
                Span<float> gx = x.GradSpan();
                ReadOnlySpan<float> gy = y.grad!.Data, xv = x.Data;
                for (int i = 0; i < gx.Length; i++)
                {
                    gx[i] += gy[i] / xv[i];
                }
            });
        }

        return y;
    }

    /// <summary>Sum of all elements, as a scalar tensor.</summary>
    public ManagedTensor sum()
    {
        ManagedTensor x = this;
        ManagedTensor y = Result([], clear: false, Tape.ShouldRecord(x));
        y.Data[0] = SumDeterministic(x.Data);
        if (y.requires_grad)
        {
            Tape.Record(y, () => TensorPrimitives.Add(x.GradSpan(), y.grad!.Data[0], x.GradSpan()));
        }

        return y;
    }

    /// <summary>Mean of all elements, as a scalar tensor.</summary>
    public ManagedTensor mean() => sum().mul(1f / Math.Max(1, numel));

    internal static float SumDeterministic(ReadOnlySpan<float> values)
    {
        double acc = 0;
        for (int i = 0; i < values.Length; i++)
        {
            acc += values[i];
        }

        return (float)acc;
    }

    private static ManagedTensor Binary(ManagedTensor a, ManagedTensor b, BinaryOp op, string name)
    {
        bool same = a._shape.AsSpan().SequenceEqual(b._shape);
        int[] outShape = same ? a._shape : Broadcast.ResolveShape(a._shape, b._shape, name);
        ManagedTensor y = Result(outShape, clear: false, Tape.ShouldRecord(a, b));
        int n = y.numel;
        float[]? ea = null, eb = null;
        ReadOnlySpan<float> av = a.Data, bv = b.Data;
        if (a.numel != n)
        {
            ea = BufferPool.Rent(n, clear: false);
            Broadcast.Expand(av, a._shape, ea.AsSpan(0, n), outShape);
            av = ea.AsSpan(0, n);
        }

        if (b.numel != n)
        {
            eb = BufferPool.Rent(n, clear: false);
            Broadcast.Expand(bv, b._shape, eb.AsSpan(0, n), outShape);
            bv = eb.AsSpan(0, n);
        }

        switch (op)
        {
            case BinaryOp.Add: TensorPrimitives.Add(av, bv, y.Data); break;
            case BinaryOp.Sub: TensorPrimitives.Subtract(av, bv, y.Data); break;
            case BinaryOp.Mul: TensorPrimitives.Multiply(av, bv, y.Data); break;
            default: TensorPrimitives.Divide(av, bv, y.Data); break;
        }

        if (ea is not null)
        {
            BufferPool.Return(ea);
        }

        if (eb is not null)
        {
            BufferPool.Return(eb);
        }

        if (y.requires_grad)
        {
            Tape.Record(y, () => BinaryBackward(a, b, y, op));
        }

        return y;
    }

    private static void BinaryBackward(ManagedTensor a, ManagedTensor b, ManagedTensor y, BinaryOp op)
    {
        ReadOnlySpan<float> g = y.grad!.Data;
        int n = g.Length;
        if (op is BinaryOp.Add or BinaryOp.Sub)
        {
            if (a.requires_grad)
            {
                Broadcast.ReduceAdd(g, y._shape, a.GradSpan(), a._shape);
            }

            if (b.requires_grad)
            {
                Broadcast.ReduceAdd(g, y._shape, b.GradSpan(), b._shape, op == BinaryOp.Sub ? -1f : 1f);
            }

            return;
        }

        float[] ea = BufferPool.Rent(n, clear: false);
        float[] eb = BufferPool.Rent(n, clear: false);
        float[] tmp = BufferPool.Rent(n, clear: false);
        Span<float> t = tmp.AsSpan(0, n);
        Broadcast.Expand(a.Data, a._shape, ea.AsSpan(0, n), y._shape);
        Broadcast.Expand(b.Data, b._shape, eb.AsSpan(0, n), y._shape);
        ReadOnlySpan<float> av = ea.AsSpan(0, n), bv = eb.AsSpan(0, n);
        if (a.requires_grad)
        {
            if (op == BinaryOp.Mul)
            {
                TensorPrimitives.Multiply(g, bv, t);
            }
            else
            {
                TensorPrimitives.Divide(g, bv, t);
            }

            Broadcast.ReduceAdd(t, y._shape, a.GradSpan(), a._shape);
        }

        if (b.requires_grad)
        {
            if (op == BinaryOp.Mul)
            {
                TensorPrimitives.Multiply(g, av, t);
            }
            else
            {
                // d(a/b)/db = -a / b^2 = -y / b
                TensorPrimitives.Divide(y.Data, bv, t);
                TensorPrimitives.Multiply(t, g, t);
                TensorPrimitives.Negate(t, t);
            }

            Broadcast.ReduceAdd(t, y._shape, b.GradSpan(), b._shape);
        }

        BufferPool.Return(ea);
        BufferPool.Return(eb);
        BufferPool.Return(tmp);
    }
}
