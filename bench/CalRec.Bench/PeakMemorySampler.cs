using System.Diagnostics;
using CalRec.Tensors.Memory;

namespace CalRec.Bench;

/// <summary>
/// The peak working set of the process while one piece of work runs: pooled buffers are released and the GC collects
/// at the start, then the working set is sampled every 50 ms. The figure includes what the process already holds (the
/// dataset, earlier models), so it is an upper bound on the work's own memory.
/// </summary>
internal sealed class PeakMemorySampler : IDisposable
{
    private readonly Timer _timer;
    private readonly Process _process = Process.GetCurrentProcess();
    private long _peak;
    private bool _disposed;

    public PeakMemorySampler()
    {
        BufferPool.Trim();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Sample(null);
        _timer = new Timer(Sample, null, 50, 50);
    }

    /// <summary>Peak working set so far, in MB.</summary>
    public double PeakMegabytes
    {
        get
        {
            Sample(null);
            return Interlocked.Read(ref _peak) / 1048576.0;
        }
    }

    public void Dispose()
    {
        // A timer callback can still be running or queued after the timer is disposed; the flag, set under the same lock
        // the callback samples under, keeps it from reading the disposed process.
        lock (_process)
        {
            _disposed = true;
        }

        _timer.Dispose();
        _process.Dispose();
    }

    private void Sample(object? state)
    {
        long now;
        lock (_process)
        {
            if (_disposed)
            {
                return;
            }

            _process.Refresh();
            now = _process.WorkingSet64;
        }

        long seen;
        while (now > (seen = Interlocked.Read(ref _peak)) && Interlocked.CompareExchange(ref _peak, now, seen) != seen)
        {
        }
    }
}
