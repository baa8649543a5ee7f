using System.Collections.Concurrent;

namespace CalRec.Tensors.Memory;

/// <summary>
/// Pool of float buffers in size classes (four per power of two, so a buffer is at most 25% larger than asked for).
/// A training step asks for the same sizes every step, so after the first steps every request is served from the pool
/// and the managed heap sees (almost) no new arrays; varying shapes (variable-length batches) land in the same classes.
/// Returned buffers are kept only while the pool holds less than <see cref="MaxPooledBytes"/>; beyond that they are left
/// to the garbage collector, so the pool's memory stays bounded whatever sizes a workload uses.
/// </summary>
public static class BufferPool
{
    private static readonly ConcurrentDictionary<int, ConcurrentBag<float[]>> s_buckets = new();
    private static long s_pooledBytes;

    /// <summary>
    /// Fill buffers rented without clearing with NaN, so a kernel that reads memory it did not write shows up at once
    /// (a debugging switch; also set by the environment variable CALREC_POISON_BUFFERS=1).
    /// </summary>
    public static bool PoisonUninitialized { get; set; } = Environment.GetEnvironmentVariable("CALREC_POISON_BUFFERS") == "1";

    /// <summary>Most bytes kept for reuse (default: a quarter of the memory available to the process).</summary>
    public static long MaxPooledBytes { get; set; } = Math.Max(256L << 20, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 4);

    /// <summary>Bytes currently held by the pool (returned buffers waiting for reuse).</summary>
    public static long PooledBytes => Interlocked.Read(ref s_pooledBytes);

    /// <summary>
    /// Rents a buffer of at least <paramref name="length"/> floats (its size class); with <paramref name="clear"/> the
    /// first <paramref name="length"/> elements are zero. Callers use only the first <paramref name="length"/> elements.
    /// </summary>
    public static float[] Rent(int length, bool clear)
    {
        if (length == 0)
        {
            return [];
        }

        int capacity = SizeClass(length);
        if (s_buckets.TryGetValue(capacity, out ConcurrentBag<float[]>? bag) && bag.TryTake(out float[]? buffer))
        {
            Interlocked.Add(ref s_pooledBytes, -4L * capacity);
            if (clear)
            {
                Array.Clear(buffer, 0, length);
            }
            else if (PoisonUninitialized)
            {
                buffer.AsSpan().Fill(float.NaN);
            }

            return buffer;
        }

        float[] fresh = clear ? new float[capacity] : GC.AllocateUninitializedArray<float>(capacity);
        if (!clear && PoisonUninitialized)
        {
            fresh.AsSpan().Fill(float.NaN);
        }

        return fresh;
    }

    /// <summary>Gives a rented buffer back for reuse. The caller must not touch it afterwards.</summary>
    public static void Return(float[] buffer)
    {
        if (buffer.Length == 0 || SizeClass(buffer.Length) != buffer.Length)
        {
            return;
        }

        if (Interlocked.Add(ref s_pooledBytes, 4L * buffer.Length) > MaxPooledBytes)
        {
            Interlocked.Add(ref s_pooledBytes, -4L * buffer.Length);
            return;
        }

        s_buckets.GetOrAdd(buffer.Length, static _ => new ConcurrentBag<float[]>()).Add(buffer);
    }

    /// <summary>Drops every pooled buffer so the garbage collector can reclaim them.</summary>
    public static void Trim()
    {
        s_buckets.Clear();
        Interlocked.Exchange(ref s_pooledBytes, 0);
    }

    /// <summary>The capacity of the size class that holds <paramref name="length"/> floats.</summary>
    internal static int SizeClass(int length)
    {
        if (length <= 16)
        {
            return 16;
        }

        int k = 31 - System.Numerics.BitOperations.LeadingZeroCount((uint)(length - 1));
        long basePow = 1L << k, step = Math.Max(1, basePow / 4);
        long capacity = basePow + ((length - basePow + step - 1) / step * step);
        return (int)Math.Min(capacity, Array.MaxLength);
    }
}
