
namespace CalRec.Recommenders.Evaluation;

/// <summary>Partial top-K selection over one score row, with the evaluator's tie rule (equal scores: smaller index first).</summary>
internal static class TopK
{
    /// <summary>
    /// Writes the indices of the <paramref name="k"/> best items not in <paramref name="excluded"/>, best first, into
    /// <paramref name="result"/> and returns how many were written (fewer when the catalogue runs out).
    /// </summary>
    public static int Select(ReadOnlySpan<float> row, int k, HashSet<int>? excluded, PriorityQueue<int, (float Score, int NegIndex)> heap, Span<int> result)
    {
        heap.Clear();
        if (k <= 0)
        {
            return 0;
        }

        // The weakest kept entry, cached so most items cost one comparison; the exclusion set is consulted only for
        // items that would enter the heap.
        (float Score, int NegIndex) min = (float.NegativeInfinity, int.MinValue);
        for (int j = 0; j < row.Length; j++)
        {
            float s = float.IsNaN(row[j]) ? float.NegativeInfinity : row[j];
            if (heap.Count == k && (s < min.Score || (s == min.Score && -j < min.NegIndex)))
            {
                continue;
            }

            if (excluded is not null && excluded.Contains(j))
            {
                continue;
            }

            heap.Enqueue(j, (s, -j));
            if (heap.Count > k)
            {
                heap.Dequeue();
            }

            if (heap.Count == k)
            {
                heap.TryPeek(out _, out min);
            }
        }

        int count = heap.Count;
        for (int i = count - 1; i >= 0; i--)
        {
            result[i] = heap.Dequeue();
        }

        return count;
    }

    /// <summary>The <paramref name="k"/> best items not in <paramref name="excluded"/>, best first (allocates; not for hot loops).</summary>
    public static List<int> Select(ReadOnlySpan<float> row, int k, HashSet<int>? excluded)
    {
        int[] result = new int[Math.Min(k, row.Length)];
        int count = Select(row, result.Length, excluded, new PriorityQueue<int, (float Score, int NegIndex)>(result.Length + 1), result);
        return [.. result.AsSpan(0, count)];
    }
}
