namespace CalRec.Tensors.Threading;

/// <summary>A unit of parallel work: <see cref="Execute"/> is called once for every part index.</summary>
public interface IParallelWork
{
    /// <summary>Runs part <paramref name="part"/> of <paramref name="parts"/>. Parts must not depend on each other.</summary>
    void Execute(int part, int parts);
}

/// <summary>
/// A fixed set of long-lived worker threads that run the parts of one <see cref="IParallelWork"/> at a time.
/// No task or delegate is allocated per call; parts are handed out through an interlocked counter, and results stay
/// deterministic because each part writes only its own outputs.
/// </summary>
public sealed class WorkerPool
{
    private static WorkerPool s_shared = new(DefaultThreadCount());

    [ThreadStatic]
    private static bool t_isWorker;

    private readonly Thread[] _threads;
    private readonly SemaphoreSlim _start;
    private readonly object _gate = new();
    private IParallelWork? _work;
    private int _parts;
    private int _next;
    private int _pending;
    private readonly ManualResetEventSlim _done = new(false, 200);
    private Exception? _failure;

    /// <summary>Creates a pool that uses <paramref name="threads"/> threads in all, the calling thread included.</summary>
    public WorkerPool(int threads)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(threads);
        ThreadCount = threads;
        _start = new SemaphoreSlim(0);
        _threads = new Thread[threads - 1];
        for (int i = 0; i < _threads.Length; i++)
        {
            _threads[i] = new Thread(WorkerLoop) { IsBackground = true, Name = $"calrec-worker-{i + 1}" };
            _threads[i].Start();
        }
    }

    /// <summary>The process-wide pool used by the kernels. Sized by CALREC_THREADS or the processor count.</summary>
    public static WorkerPool Shared => s_shared;

    /// <summary>Replaces the shared pool with one of <paramref name="threads"/> threads (for benchmarks and determinism tests).</summary>
    public static void SetSharedThreadCount(int threads)
    {
        if (threads != s_shared.ThreadCount)
        {
            s_shared = new WorkerPool(threads);
        }
    }

    /// <summary>Whether the calling thread is running a part of a parallel region (nested work runs inline).</summary>
    public static bool IsInsideParallelRegion => t_isWorker;

    /// <summary>Threads taking part in a run, the caller included.</summary>
    public int ThreadCount { get; }

    /// <summary>
    /// Runs parts 0..<paramref name="parts"/>-1 of <paramref name="work"/> across the pool and returns when all are done.
    /// Nested calls (from inside a part) and concurrent callers run inline on the calling thread.
    /// </summary>
    public void Run(IParallelWork work, int parts)
    {
        if (parts <= 0)
        {
            return;
        }

        if (parts == 1 || _threads.Length == 0 || t_isWorker || !Monitor.TryEnter(_gate))
        {
            for (int p = 0; p < parts; p++)
            {
                work.Execute(p, parts);
            }

            return;
        }

        try
        {
            _work = work;
            _parts = parts;
            _next = 0;
            _failure = null;
            int helpers = Math.Min(_threads.Length, parts - 1);
            _pending = helpers + 1;
            _done.Reset();
            _start.Release(helpers);
            bool wasWorker = t_isWorker;
            t_isWorker = true;
            try
            {
                Drain();
            }
            finally
            {
                t_isWorker = wasWorker;
            }

            if (Interlocked.Decrement(ref _pending) != 0)
            {
                _done.Wait();
            }

            _work = null;
            if (_failure is { } failure)
            {
                throw new AggregateException("A parallel kernel part failed.", failure);
            }
        }
        finally
        {
            Monitor.Exit(_gate);
        }
    }

    private void Drain()
    {
        IParallelWork work = _work!;
        int parts = _parts;
        int part;
        while ((part = Interlocked.Increment(ref _next) - 1) < parts)
        {
            try
            {
                work.Execute(part, parts);
            }
            catch (Exception ex)
            {
                _failure ??= ex;
            }
        }
    }

    private void WorkerLoop()
    {
        t_isWorker = true;
        while (true)
        {
            _start.Wait();
            Drain();
            if (Interlocked.Decrement(ref _pending) == 0)
            {
                _done.Set();
            }
        }
    }

    private static int DefaultThreadCount()
    {
        string? env = Environment.GetEnvironmentVariable("CALREC_THREADS");
        return int.TryParse(env, out int n) && n > 0 ? n : Environment.ProcessorCount;
    }
}
