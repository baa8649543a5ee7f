using CalRec.Tensors.Autograd;

namespace CalRec.Tensors.Memory;

/// <summary>
/// Collects every tensor created on this thread while it is the innermost scope and disposes them when the scope
/// ends, returning their buffers to <see cref="BufferPool"/> (TorchSharp's dispose scopes, in spirit).
/// Tensors that must outlive the scope are kept with <see cref="ManagedTensor.MoveToOuterScope"/> or created outside it.
/// </summary>
public sealed class TensorScope : IDisposable
{
    [ThreadStatic]
    private static TensorScope? t_current;

    private readonly TensorScope? _outer;
    private readonly List<ManagedTensor> _tensors = new(256);
    private readonly int _tapeMark;
    private bool _disposed;

    private TensorScope()
    {
        _outer = t_current;
        _tapeMark = Tape.Count;
        t_current = this;
    }

    /// <summary>The innermost scope on this thread, or null.</summary>
    internal static TensorScope? Current => t_current;

    /// <summary>Opens a new innermost scope on this thread.</summary>
    public static TensorScope Begin() => new();

    /// <summary>Number of tensors the scope will dispose.</summary>
    public int Count => _tensors.Count;

    internal void Register(ManagedTensor tensor) => _tensors.Add(tensor);

    internal bool Remove(ManagedTensor tensor)
    {
        for (int i = _tensors.Count - 1; i >= 0; i--)
        {
            if (ReferenceEquals(_tensors[i], tensor))
            {
                _tensors.RemoveAt(i);
                return true;
            }
        }

        return false;
    }

    internal TensorScope? Outer => _outer;

    /// <summary>Disposes every tensor registered in this scope and forgets the autograd records made inside it.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (!ReferenceEquals(t_current, this))
        {
            throw new InvalidOperationException("Tensor scopes must be disposed in the reverse order of creation.");
        }

        Tape.Truncate(_tapeMark);
        foreach (ManagedTensor t in _tensors)
        {
            t.DisposeFromScope();
        }

        _tensors.Clear();
        t_current = _outer;
    }
}
