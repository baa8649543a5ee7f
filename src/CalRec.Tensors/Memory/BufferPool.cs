using System.Collections.Concurrent;

namespace CalRec.Tensors.Memory;

/// <summary>
/// Exact-size pool of float buffers. A training step asks for the same sizes every time, so after the first step
/// every request is served from the pool and the managed heap sees (almost) no new arrays.
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

    /// <summary>Bytes currently held by the pool (returned buffers waiting for reuse).</summary>
    public static long PooledBytes => Interlocked.Read(ref s_pooledBytes);

    /// <summary>Rents a buffer of exactly <paramref name="length"/> floats, zero-filled when <paramref name="clear"/> is true.</summary>
    public static float[] Rent(int length, bool clear)
    {
        if (length == 0)
        {
            return [];
        }

        if (s_buckets.TryGetValue(length, out ConcurrentBag<float[]>? bag) && bag.TryTake(out float[]? buffer))
        {
            Interlocked.Add(ref s_pooledBytes, -4L * length);
            if (clear)
            {
                Array.Clear(buffer);
            }
            else if (PoisonUninitialized)
            {
                buffer.AsSpan().Fill(float.NaN);
            }

            return buffer;
        }

        float[] fresh = clear ? new float[length] : GC.AllocateUninitializedArray<float>(length);
        if (!clear && PoisonUninitialized)
        {
            fresh.AsSpan().Fill(float.NaN);
        }

        return fresh;
    }

    /// <summary>Gives a buffer back for reuse. The caller must not touch it afterwards.</summary>
    public static void Return(float[] buffer)
    {
        if (buffer.Length == 0)
        {
            return;
        }

        s_buckets.GetOrAdd(buffer.Length, static _ => new ConcurrentBag<float[]>()).Add(buffer);
        Interlocked.Add(ref s_pooledBytes, 4L * buffer.Length);
    }

    /// <summary>Drops every pooled buffer so the garbage collector can reclaim them.</summary>
    public static void Trim()
    {
        s_buckets.Clear();
        Interlocked.Exchange(ref s_pooledBytes, 0);
    }
}
