
namespace CalRec.Recommenders.Grounding;

/// <summary>
/// Ways of combining ranked item lists: CALRec's quasi-round-robin over the BM25 lists of several generated texts, and
/// weighted reciprocal-rank fusion of lists from different grounding paths.
/// </summary>
public static class RankFusion
{
    /// <summary>
    /// Quasi-round-robin: <paramref name="lists"/> are ordered by their generation score (best first); the merged list
    /// takes the next not-yet-taken, not-excluded item from each list in turn until it holds <paramref name="k"/> items
    /// or every list is exhausted.
    /// </summary>
    public static List<int> QuasiRoundRobin(IReadOnlyList<IReadOnlyList<int>> lists, int k, IReadOnlySet<int>? exclude = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        var merged = new List<int>(k);
        var taken = new HashSet<int>();
        int[] cursor = new int[lists.Count];
        bool progress = true;
        while (merged.Count < k && progress)
        {
            progress = false;
            for (int l = 0; l < lists.Count && merged.Count < k; l++)
            {
                IReadOnlyList<int> list = lists[l];
                while (cursor[l] < list.Count)
                {
                    int item = list[cursor[l]++];
                    if (exclude?.Contains(item) != true && taken.Add(item))
                    {
                        merged.Add(item);
                        progress = true;
                        break;
                    }
                }
            }
        }

        return merged;
    }

    /// <summary>
    /// Weighted reciprocal-rank fusion: item score = Σ over lists of weight / (<paramref name="c"/> + rank), rank
    /// 1-based; returns the <paramref name="k"/> best items with their fused scores, best first (ties: smaller item first).
    /// </summary>
    public static List<(int Item, double Score)> Reciprocal(IReadOnlyList<(IReadOnlyList<int> List, double Weight)> lists, int k, double c = 60)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        ArgumentOutOfRangeException.ThrowIfNegative(c);
        var scores = new Dictionary<int, double>();
        foreach ((IReadOnlyList<int> list, double weight) in lists)
        {
            if (weight == 0)
            {
                continue;
            }

            var seen = new HashSet<int>();
            for (int r = 0; r < list.Count; r++)
            {
                if (seen.Add(list[r]))
                {
                    scores[list[r]] = scores.GetValueOrDefault(list[r]) + (weight / (c + r + 1));
                }
            }
        }

        return scores.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key).Take(k).Select(kv => (kv.Key, kv.Value)).ToList();
    }
}
