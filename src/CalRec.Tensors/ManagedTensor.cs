using System.Text;
using CalRec.Tensors.Autograd;
using CalRec.Tensors.Memory;

namespace CalRec.Tensors;

/// <summary>
/// A dense, row-major float32 tensor that can take part in reverse-mode automatic differentiation.
/// Names follow TorchSharp (<c>requires_grad</c>, <c>backward()</c>, <c>grad</c>, <c>detach()</c>) so model code
/// reads like PyTorch.
/// </summary>
/// <remarks>
/// Storage comes from <see cref="BufferPool"/>. A tensor created inside a <see cref="TensorScope"/> is disposed with
/// it; <see cref="reshape(int[])"/> returns a view sharing storage with its base.
/// </remarks>
public sealed partial class ManagedTensor : IDisposable
{
    private float[] _data;
    private readonly int[] _shape;
    private readonly ManagedTensor? _viewOf;
    private bool _disposed;

    internal Action? BackwardFn;

    private ManagedTensor(float[] data, int[] shape, ManagedTensor? viewOf)
    {
        _data = data;
        _shape = shape;
        _viewOf = viewOf;
        numel = ShapeSize(shape);
        TensorScope.Current?.Register(this);
    }

    /// <summary>The dimensions of the tensor.</summary>
    public ReadOnlySpan<int> shape => _shape;

    /// <summary>Number of dimensions.</summary>
    public int ndim => _shape.Length;

    /// <summary>Total number of elements.</summary>
    public int numel { get; }

    /// <summary>Whether operations on this tensor are recorded for <see cref="backward"/>.</summary>
    public bool requires_grad { get; set; }

    /// <summary>Gradient accumulated by <see cref="backward"/>, or null before the first backward pass.</summary>
    public ManagedTensor? grad { get; internal set; }

    /// <summary>The elements, row-major. Writing through this span bypasses autograd.</summary>
    public Span<float> Data
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _data.AsSpan(0, numel);
        }
    }

    internal float[] Buffer
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _data;
        }
    }

    internal int[] ShapeArray => _shape;

    /// <summary>Size of dimension <paramref name="dim"/>; negative values count from the end.</summary>
    public int size(int dim) => _shape[NormalizeDim(dim, _shape.Length)];

    /// <summary>Creates a tensor of zeros.</summary>
    public static ManagedTensor zeros(params int[] shape) => new(BufferPool.Rent(ShapeSize(shape), clear: true), (int[])shape.Clone(), null);

    /// <summary>Creates a tensor filled with <paramref name="value"/>.</summary>
    public static ManagedTensor full(float value, params int[] shape)
    {
        var t = new ManagedTensor(BufferPool.Rent(ShapeSize(shape), clear: false), (int[])shape.Clone(), null);
        t.Data.Fill(value);
        return t;
    }

    /// <summary>Creates a tensor of ones.</summary>
    public static ManagedTensor ones(params int[] shape) => full(1f, shape);

    /// <summary>Creates a tensor whose contents are unspecified (for kernels that overwrite every element).</summary>
    internal static ManagedTensor empty(params int[] shape) => new(BufferPool.Rent(ShapeSize(shape), clear: false), shape, null);

    /// <summary>Creates a tensor holding a copy of <paramref name="values"/>.</summary>
    public static ManagedTensor from(ReadOnlySpan<float> values, params int[] shape)
    {
        if (ShapeSize(shape) != values.Length)
        {
            throw new ArgumentException($"from: {values.Length} values do not fill shape {FormatShape(shape)}.", nameof(values));
        }

        var t = new ManagedTensor(BufferPool.Rent(values.Length, clear: false), (int[])shape.Clone(), null);
        values.CopyTo(t.Data);
        return t;
    }

    /// <summary>A scalar (0-dimensional) tensor.</summary>
    public static ManagedTensor scalar(float value) => from([value]);

    /// <summary>Samples from N(0, std²) with the given generator.</summary>
    public static ManagedTensor randn(SeededRandom generator, float std, params int[] shape)
    {
        var t = empty((int[])shape.Clone());
        generator.FillNormal(t.Data, 0f, std);
        return t;
    }

    /// <summary>Samples uniformly from [low, high) with the given generator.</summary>
    public static ManagedTensor rand(SeededRandom generator, float low, float high, params int[] shape)
    {
        var t = empty((int[])shape.Clone());
        generator.FillUniform(t.Data, low, high);
        return t;
    }

    /// <summary>The single value of a one-element tensor.</summary>
    public float item()
    {
        if (numel != 1)
        {
            throw new InvalidOperationException($"item: tensor of shape {FormatShape(_shape)} has {numel} elements, not 1.");
        }

        return Data[0];
    }

    /// <summary>A copy of the elements.</summary>
    public float[] ToArray() => Data.ToArray();

    /// <summary>
    /// A view with a new shape over the same storage. One dimension may be -1 and is inferred.
    /// Gradients flow through the view to this tensor.
    /// </summary>
    public ManagedTensor reshape(params int[] newShape)
    {
        int[] resolved = ResolveShape(newShape, numel, "reshape", _shape);
        var view = new ManagedTensor(_data, resolved, _viewOf ?? this);
        if (Tape.ShouldRecord(this))
        {
            view.requires_grad = true;
            ManagedTensor source = this;
            Tape.Record(view, () => source.AccumulateGrad(view.grad!.Data));
        }

        return view;
    }

    /// <summary>A tensor sharing nothing with the autograd graph: same values, no gradient history.</summary>
    public ManagedTensor detach()
    {
        var t = new ManagedTensor(BufferPool.Rent(numel, clear: false), (int[])_shape.Clone(), null);
        Data.CopyTo(t.Data);
        return t;
    }

    /// <summary>A deep copy that keeps gradient flow (<c>clone()</c> in PyTorch).</summary>
    public ManagedTensor clone()
    {
        var t = detach();
        if (Tape.ShouldRecord(this))
        {
            t.requires_grad = true;
            ManagedTensor source = this;
            Tape.Record(t, () => source.AccumulateGrad(t.grad!.Data));
        }

        return t;
    }

    /// <summary>Runs reverse-mode differentiation from this scalar, accumulating into every leaf's <see cref="grad"/>.</summary>
    public void backward()
    {
        if (numel != 1)
        {
            throw new InvalidOperationException($"backward: needs a scalar, got shape {FormatShape(_shape)}; reduce it first (sum or mean).");
        }

        if (!requires_grad)
        {
            throw new InvalidOperationException("backward: tensor does not require grad (no parameter with requires_grad took part, or no_grad was active).");
        }

        AccumulateGrad([1f]);
        Tape.RunBackward();
    }

    /// <summary>Sets the gradient to zero (the buffer is kept for the next backward pass).</summary>
    public void zero_grad()
    {
        if (grad is { } g)
        {
            g.Data.Clear();
        }
    }

    /// <summary>Keeps this tensor alive past the current <see cref="TensorScope"/> by handing it to the enclosing one (or to nobody).</summary>
    public ManagedTensor MoveToOuterScope()
    {
        TensorScope? scope = TensorScope.Current;
        if (scope is not null && scope.Remove(this))
        {
            scope.Outer?.Register(this);
        }

        return this;
    }

    /// <summary>Returns the storage to the pool. Views and disposed tensors are left alone.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        BackwardFn = null;
        if (_viewOf is null)
        {
            BufferPool.Return(_data);
        }

        _data = [];
        grad?.Dispose();
        grad = null;
    }

    internal void DisposeFromScope() => Dispose();

    /// <summary>Whether <see cref="Dispose"/> has run.</summary>
    public bool IsDisposed => _disposed;

    /// <summary>Adds <paramref name="g"/> into this tensor's gradient, creating it on first use.</summary>
    internal void AccumulateGrad(ReadOnlySpan<float> g)
    {
        Span<float> dst = GradSpan();
        System.Numerics.Tensors.TensorPrimitives.Add(dst, g, dst);
    }

    /// <summary>The gradient buffer, zero-filled on first access; backward kernels add into it.</summary>
    internal Span<float> GradSpan() => GradTensor().Data;

    internal ManagedTensor GradTensor()
    {
        if (grad is null)
        {
            // Gradients live as long as their tensor, not as long as the scope they were first touched in.
            grad = new ManagedTensor(BufferPool.Rent(numel, clear: true), _shape, null);
            TensorScope.Current?.Remove(grad);
        }

        return grad;
    }

    /// <summary>Copies values from <paramref name="source"/> (same number of elements) without recording autograd.</summary>
    public void copy_(ManagedTensor source)
    {
        if (source.numel != numel)
        {
            throw new ArgumentException($"copy_: source shape {FormatShape(source._shape)} does not match {FormatShape(_shape)}.");
        }

        source.Data.CopyTo(Data);
    }

    /// <inheritdoc />
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append("ManagedTensor").Append(FormatShape(_shape));
        if (_disposed)
        {
            return sb.Append(" (disposed)").ToString();
        }

        sb.Append(" [");
        int n = Math.Min(numel, 8);
        for (int i = 0; i < n; i++)
        {
            sb.Append(i == 0 ? string.Empty : ", ").Append(_data[i].ToString("G5", System.Globalization.CultureInfo.InvariantCulture));
        }

        return sb.Append(numel > n ? ", ...]" : "]").ToString();
    }

    internal static int ShapeSize(ReadOnlySpan<int> shape)
    {
        long size = 1;
        foreach (int d in shape)
        {
            if (d < 0)
            {
                throw new ArgumentException($"Negative dimension in shape {FormatShape(shape)}.");
            }

            size *= d;
            if (size > Array.MaxLength)
            {
                throw new ArgumentException($"Shape {FormatShape(shape)} has more elements than an array can hold.");
            }
        }

        return (int)size;
    }

    /// <summary>Formats a shape as <c>[2, 3, 4]</c> for error messages.</summary>
    public static string FormatShape(ReadOnlySpan<int> shape)
    {
        var sb = new StringBuilder("[");
        for (int i = 0; i < shape.Length; i++)
        {
            sb.Append(i == 0 ? string.Empty : ", ").Append(shape[i]);
        }

        return sb.Append(']').ToString();
    }

    internal static int NormalizeDim(int dim, int ndim)
    {
        int d = dim < 0 ? dim + ndim : dim;
        if ((uint)d >= (uint)ndim)
        {
            throw new ArgumentOutOfRangeException(nameof(dim), $"Dimension {dim} is out of range for a {ndim}-d tensor.");
        }

        return d;
    }

    private static int[] ResolveShape(int[] newShape, int count, string op, int[] oldShape)
    {
        int[] resolved = (int[])newShape.Clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < resolved.Length; i++)
        {
            if (resolved[i] == -1)
            {
                if (infer >= 0)
                {
                    throw new ArgumentException($"{op}: only one dimension may be -1 in {FormatShape(newShape)}.");
                }

                infer = i;
            }
            else
            {
                known *= resolved[i];
            }
        }

        if (infer >= 0 && known > 0 && count % known == 0)
        {
            resolved[infer] = (int)(count / known);
            known *= resolved[infer];
        }

        if (known != count)
        {
            throw new ArgumentException($"{op}: cannot view shape {FormatShape(oldShape)} ({count} elements) as {FormatShape(newShape)}.");
        }

        return resolved;
    }

    /// <summary>Creates the output tensor of an op; it requires grad when any input does and recording is on.</summary>
    internal static ManagedTensor Result(int[] shape, bool clear, bool track)
    {
        var t = new ManagedTensor(BufferPool.Rent(ShapeSize(shape), clear), shape, null);
        t.requires_grad = track;
        return t;
    }
}
