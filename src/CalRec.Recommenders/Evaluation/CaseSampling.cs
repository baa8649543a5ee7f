using CalRec.Data.Splits;
using CalRec.Tensors;

namespace CalRec.Recommenders.Evaluation;

/// <summary>Seeded samples of evaluation cases (for slow scorers such as generation-based grounding).</summary>
public static class CaseSampling
{
    /// <summary>A seeded sample of <paramref name="count"/> cases in their original order (all when count is 0 or more than there are).</summary>
    public static IReadOnlyList<EvaluationCase> Sample(IReadOnlyList<EvaluationCase> cases, int count, ulong seed)
    {
        if (count <= 0 || count >= cases.Count)
        {
            return cases;
        }

        int[] order = Enumerable.Range(0, cases.Count).ToArray();
        new SeededRandom(seed).Shuffle<int>(order);
        return order.Take(count).Order().Select(i => cases[i]).ToList();
    }
}
