namespace CalRec.Evaluation;

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
        for (int j = 0; j < row.Length; j++)
        {
            if (excluded is not null && excluded.Contains(j))
            {
                continue;
            }

            float s = float.IsNaN(row[j]) ? float.NegativeInfinity : row[j];
            if (heap.Count == k)
            {
                heap.TryPeek(out _, out (float Score, int NegIndex) min);
                if (s < min.Score || (s == min.Score && -j < min.NegIndex))
                {
                    continue;
                }
            }

            heap.Enqueue(j, (s, -j));
            if (heap.Count > k)
            {
                heap.Dequeue();
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
