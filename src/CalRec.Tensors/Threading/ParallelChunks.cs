namespace CalRec.Tensors.Threading;

/// <summary>Splits an index range [0, n) into contiguous chunks run across <see cref="WorkerPool.Shared"/>.</summary>
internal static class ParallelChunks
{
    private const int MinChunk = 16384;

    /// <summary>Calls <paramref name="body"/>(start, length) for contiguous pieces covering [0, n).</summary>
    public static void For(int n, Action<int, int> body)
    {
        int parts = Math.Min(WorkerPool.Shared.ThreadCount, Math.Max(1, n / MinChunk));
        if (parts <= 1)
        {
            body(0, n);
            return;
        }

        WorkerPool.Shared.Run(new Work(n, body), parts);
    }

    private sealed class Work(int n, Action<int, int> body) : IParallelWork
    {
        public void Execute(int part, int parts)
        {
            int start = (int)((long)n * part / parts), end = (int)((long)n * (part + 1) / parts);
            body(start, end - start);
        }
    }
}
