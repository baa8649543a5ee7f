namespace CalRec.Data.Core;

/// <summary>Counts and history-length percentiles of a dataset.</summary>
/// <param name="Users">Users with at least one interaction.</param>
/// <param name="Items">Catalogue items.</param>
/// <param name="Interactions">Total interactions.</param>
/// <param name="Density">Interactions / (users × items).</param>
/// <param name="LengthPercentiles">History length at the 5th, 25th, 50th, 75th, 95th percentiles and the maximum.</param>
/// <param name="ItemsWithoutInteractions">Catalogue items nobody interacted with.</param>
public sealed record DatasetStatistics(int Users, int Items, long Interactions, double Density, IReadOnlyList<int> LengthPercentiles, int ItemsWithoutInteractions)
{
    /// <summary>The percentile levels of <see cref="LengthPercentiles"/> (100 = maximum).</summary>
    public static IReadOnlyList<int> Levels { get; } = [5, 25, 50, 75, 95, 100];

    /// <summary>Computes the statistics of <paramref name="data"/>.</summary>
    public static DatasetStatistics Of(InteractionDataset data)
    {
        int[] lengths = data.Sequences.Select(s => s.Length).Order().ToArray();
        // Nearest-rank percentile: the smallest length with at least p% of users at or below it.
        int Pct(int p) => lengths.Length == 0 ? 0 : lengths[Math.Clamp((int)Math.Ceiling(p / 100.0 * lengths.Length) - 1, 0, lengths.Length - 1)];
        bool[] used = new bool[data.ItemCount];
        foreach (int[] s in data.Sequences)
        {
            foreach (int i in s)
            {
                used[i] = true;
            }
        }

        long interactions = data.InteractionCount;
        double density = data.Users.Count == 0 || data.ItemCount == 0 ? 0 : interactions / ((double)data.Users.Count * data.ItemCount);
        return new DatasetStatistics(data.Users.Count, data.ItemCount, interactions, density, Levels.Select(Pct).ToList(), used.Count(u => !u));
    }
}
