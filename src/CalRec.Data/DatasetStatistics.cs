namespace CalRec.Data;

/// <summary>Counts and history-length percentiles of a dataset.</summary>
/// <param name="Users">Users with at least one interaction.</param>
/// <param name="Items">Catalogue items.</param>
/// <param name="Interactions">Total interactions.</param>
/// <param name="Density">Distinct (user, item) pairs / (users × items): at most 1, however often items repeat.</param>
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
        bool[] used = new bool[data.ItemCount];
        foreach (int[] s in data.Sequences)
        {
            foreach (int i in s)
            {
                used[i] = true;
            }
        }

        long interactions = data.InteractionCount;
        long pairs = data.Sequences.Sum(s => (long)s.Distinct().Count());
        double density = data.Users.Count == 0 || data.ItemCount == 0 ? 0 : pairs / ((double)data.Users.Count * data.ItemCount);
        return new DatasetStatistics(data.Users.Count, data.ItemCount, interactions, density, Levels.Select(p => Percentile(lengths, p)).ToList(), used.Count(u => !u));
    }

    /// <summary>
    /// Statistics per domain (<see cref="InteractionDataset.DomainOf"/>): each history restricted to the domain's items,
    /// users counted where that leaves at least one interaction. Domains in order of first appearance.
    /// </summary>
    public static IReadOnlyList<(string Domain, DatasetStatistics Statistics)> ByDomain(InteractionDataset data)
    {
        string[] domainOf = Enumerable.Range(0, data.ItemCount).Select(data.DomainOf).ToArray();
        var result = new List<(string, DatasetStatistics)>();
        foreach (string domain in data.Domains)
        {
            int[] sub = Enumerable.Range(0, data.ItemCount).Where(i => domainOf[i] == domain).ToArray();
            var inDomain = new HashSet<int>(sub);
            int[] lengths = data.Sequences.Select(s => s.Count(inDomain.Contains)).Where(n => n > 0).Order().ToArray();
            int used = data.Sequences.SelectMany(s => s).Where(inDomain.Contains).Distinct().Count();
            long interactions = lengths.Sum(n => (long)n);
            long pairs = data.Sequences.Sum(s => (long)s.Where(inDomain.Contains).Distinct().Count());
            double density = lengths.Length == 0 || sub.Length == 0 ? 0 : pairs / ((double)lengths.Length * sub.Length);
            result.Add((domain, new DatasetStatistics(lengths.Length, sub.Length, interactions, density, Levels.Select(p => Percentile(lengths, p)).ToList(), sub.Length - used)));
        }

        return result;
    }

    // Nearest-rank percentile of sorted values: the smallest value with at least p% of them at or below it.
    private static int Percentile(int[] sorted, int p) =>
        sorted.Length == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(p / 100.0 * sorted.Length) - 1, 0, sorted.Length - 1)];
}
