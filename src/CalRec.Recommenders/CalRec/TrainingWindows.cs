
namespace CalRec.Recommenders.CalRec;

/// <summary>Cuts training sequences into the windows that CALRec's stages and its pretraining corpus train on.</summary>
internal static class TrainingWindows
{
    /// <summary>
    /// Each sequence of <paramref name="train"/> cut from its end into windows of up to <paramref name="maxItems"/> items
    /// (consecutive windows share one item, so every transition is trained once), each fitting
    /// <paramref name="maxTokens"/> serialized tokens. Sequences shorter than two items give no window.
    /// </summary>
    public static List<HistoryExample> Cut(ItemTextTable table, int tableKey, IReadOnlyList<int[]> train, int maxItems, int maxTokens)
    {
        var result = new List<HistoryExample>();
        for (int user = 0; user < train.Count; user++)
        {
            int[] s = train[user];
            int end = s.Length;
            while (end >= 2)
            {
                ReadOnlySpan<int> window = table.Fit(s.AsSpan(0, end), maxItems, maxTokens);
                if (window.Length < 2)
                {
                    // A single item already fills the budget; step past it.
                    end--;
                    continue;
                }

                result.Add(new HistoryExample(table, tableKey, user, window.ToArray()));
                end -= window.Length - 1;
            }
        }

        return result;
    }
}
