namespace CalRec.Tensors.Autograd;

/// <summary>
/// The per-thread record of differentiable operations in creation order (a valid topological order), replayed in
/// reverse by <see cref="ManagedTensor.backward"/>.
/// </summary>
public static class Tape
{
    [ThreadStatic]
    private static List<ManagedTensor>? t_nodes;

    [ThreadStatic]
    private static int t_noGradDepth;

    /// <summary>Whether operations are being recorded on this thread.</summary>
    public static bool IsGradEnabled => t_noGradDepth == 0;

    internal static int Count => t_nodes?.Count ?? 0;

    /// <summary>Disables recording until the returned scope is disposed (<c>torch.no_grad()</c>).</summary>
    public static NoGradScope no_grad()
    {
        t_noGradDepth++;
        return new NoGradScope();
    }

    internal static bool ShouldRecord(ManagedTensor a) => t_noGradDepth == 0 && a.requires_grad;

    internal static bool ShouldRecord(ManagedTensor a, ManagedTensor b) => t_noGradDepth == 0 && (a.requires_grad || b.requires_grad);

    internal static bool ShouldRecord(ManagedTensor a, ManagedTensor? b, ManagedTensor? c) =>
        t_noGradDepth == 0 && (a.requires_grad || (b?.requires_grad ?? false) || (c?.requires_grad ?? false));

    internal static void Record(ManagedTensor output, Action backward)
    {
        output.BackwardFn = backward;
        (t_nodes ??= new List<ManagedTensor>(1024)).Add(output);
    }

    internal static void Truncate(int mark)
    {
        List<ManagedTensor>? nodes = t_nodes;
        if (nodes is null || nodes.Count <= mark)
        {
            return;
        }

        for (int i = mark; i < nodes.Count; i++)
        {
            nodes[i].BackwardFn = null;
        }

        nodes.RemoveRange(mark, nodes.Count - mark);
    }

    internal static void RunBackward()
    {
        List<ManagedTensor>? nodes = t_nodes;
        if (nodes is null)
        {
            return;
        }

        using (no_grad())
        {
            for (int i = nodes.Count - 1; i >= 0; i--)
            {
                ManagedTensor node = nodes[i];
                if (node.grad is not null && node.BackwardFn is { } fn)
                {
                    fn();
                }

                node.BackwardFn = null;
            }
        }

        nodes.Clear();
    }

    /// <summary>Restores recording when disposed.</summary>
    public readonly struct NoGradScope : IDisposable
    {
        /// <summary>Ends the no-grad region.</summary>
        public void Dispose() => t_noGradDepth--;
    }
}
