using System.Globalization;
using CalRec.Recommenders.CalRec;

namespace CalRec.Recommenders.Evaluation;

/// <summary>A metric value with its bootstrap 95% confidence interval.</summary>
/// <param name="Value">Mean over users.</param>
/// <param name="Low">2.5th percentile of the bootstrap means.</param>
/// <param name="High">97.5th percentile of the bootstrap means.</param>
public readonly record struct MetricWithInterval(double Value, double Low, double High)
{
    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Value:F4} [{Low:F4}, {High:F4}]");
}

/// <summary>
/// Full-ranking metrics for one target per user, as series indexed like <see cref="Ks"/> (ML.NET's NDCG list style),
/// with bootstrap confidence intervals, catalogue coverage and the per-user ranks (for paired comparisons).
/// </summary>
public sealed class RecommendationMetrics
{
    internal RecommendationMetrics(IReadOnlyList<int> ks, int[] ranks, double coverage, int bootstrapSamples, ulong seed, string protocol, IReadOnlyList<int[]>? topLists = null)
    {
        TopLists = topLists;
        Ks = ks;
        Protocol = protocol;
        _bootstrapSamples = bootstrapSamples;
        _seed = seed;
        Ranks = ranks;
        CoverageAtMaxK = coverage;
        var hr = new List<MetricWithInterval>();
        var ndcg = new List<MetricWithInterval>();
        var mrr = new List<MetricWithInterval>();
        foreach (int k in ks)
        {
            hr.Add(Bootstrap(ranks, r => r < k ? 1.0 : 0.0, bootstrapSamples, seed));
            ndcg.Add(Bootstrap(ranks, r => r < k ? 1.0 / Math.Log2(r + 2) : 0.0, bootstrapSamples, seed));
            mrr.Add(Bootstrap(ranks, r => r < k ? 1.0 / (r + 1) : 0.0, bootstrapSamples, seed));
        }

        HitRate = hr;
        Ndcg = ndcg;
        Mrr = mrr;
    }

    private readonly int _bootstrapSamples;
    private readonly ulong _seed;

    /// <summary>How the ranks were obtained (full ranking, or the sampled-negatives protocol), for labelling results.</summary>
    public string Protocol { get; }

    /// <summary>Whether these are sampled-negative metrics rather than full-ranking ones.</summary>
    public bool IsSampled => Protocol.StartsWith("sampled", StringComparison.Ordinal);

    /// <summary>Cut-offs K.</summary>
    public IReadOnlyList<int> Ks { get; }

    /// <summary>HR@K (= Recall@K with one target), per K.</summary>
    public IReadOnlyList<MetricWithInterval> HitRate { get; }

    /// <summary>NDCG@K, per K.</summary>
    public IReadOnlyList<MetricWithInterval> Ndcg { get; }

    /// <summary>MRR@K, per K.</summary>
    public IReadOnlyList<MetricWithInterval> Mrr { get; }

    /// <summary>Fraction of the catalogue appearing in at least one top-max(K) list (NaN for sampled metrics and subsets).</summary>
    public double CoverageAtMaxK { get; }

    /// <summary>0-based rank of each user's target (seen items excluded), in evaluation-case order.</summary>
    public IReadOnlyList<int> Ranks { get; }

    /// <summary>
    /// Each user's top-max(K) item indices, best first, in evaluation-case order; null unless
    /// <see cref="RecommendationEvaluatorOptions.KeepTopLists"/> was set.
    /// </summary>
    public IReadOnlyList<int[]>? TopLists { get; }

    /// <summary>Number of evaluated users.</summary>
    public int Users => Ranks.Count;

    /// <summary>Metric by name (<c>hr@10</c>, <c>recall@10</c>, <c>ndcg@10</c>, <c>mrr@10</c>).</summary>
    public MetricWithInterval this[string name]
    {
        get
        {
            string[] parts = name.ToLowerInvariant().Split('@');
            int i = parts.Length == 2 && int.TryParse(parts[1], CultureInfo.InvariantCulture, out int k) ? Ks.ToList().IndexOf(k) : -1;
            if (i < 0)
            {
                throw new KeyNotFoundException($"No metric '{name}' (K in [{string.Join(", ", Ks)}]).");
            }

            return parts[0] switch
            {
                "hr" or "recall" => HitRate[i],
                "ndcg" => Ndcg[i],
                "mrr" => Mrr[i],
                _ => throw new KeyNotFoundException($"Unknown metric '{parts[0]}' (hr, recall, ndcg, mrr)."),
            };
        }
    }

    /// <summary>Flat name → value map (<c>ndcg@10</c>, <c>hr@10</c>, ..., <c>coverage@20</c>, <c>users</c>).</summary>
    public IReadOnlyDictionary<string, double> ToDictionary()
    {
        var d = new Dictionary<string, double>(StringComparer.Ordinal);
        for (int i = 0; i < Ks.Count; i++)
        {
            d[$"hr@{Ks[i]}"] = HitRate[i].Value;
            d[$"ndcg@{Ks[i]}"] = Ndcg[i].Value;
            d[$"mrr@{Ks[i]}"] = Mrr[i].Value;
        }

        if (!double.IsNaN(CoverageAtMaxK))
        {
            d[$"coverage@{Ks.Max()}"] = CoverageAtMaxK;
        }

        d["users"] = Users;
        return d;
    }

    /// <summary>
    /// The metrics of a subset of the evaluated users, grouped by <paramref name="groupOfCase"/> (for example the domain
    /// of each case's target item); groups in order of first appearance. Coverage is not defined for a subset.
    /// </summary>
    public IReadOnlyList<(string Group, RecommendationMetrics Metrics)> BreakDown(Func<int, string> groupOfCase)
    {
        var groups = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        var order = new List<string>();
        for (int i = 0; i < Users; i++)
        {
            string g = groupOfCase(i);
            if (!groups.TryGetValue(g, out var list))
            {
                groups[g] = list = [];
                order.Add(g);
            }

            list.Add(Ranks[i]);
        }

        return order.Select(g => (g, new RecommendationMetrics(Ks, [.. groups[g]], double.NaN, _bootstrapSamples, _seed, Protocol))).ToList();
    }

    /// <summary>Per-domain metrics: cases grouped by the domain of their target item in <paramref name="data"/>.</summary>
    public IReadOnlyList<(string Group, RecommendationMetrics Metrics)> ByTargetDomain(IReadOnlyList<Data.Splits.EvaluationCase> cases, Data.InteractionDataset data) =>
        cases.Count != Users
            ? throw new ArgumentException($"{cases.Count} cases for metrics of {Users} users.")
            : BreakDown(i => data.DomainOf(cases[i].Target));

    /// <summary>
    /// Paired comparison on the same users: mean of (this − other) for NDCG@<paramref name="k"/> with a bootstrap 95%
    /// interval; an interval excluding 0 means the difference is unlikely to be noise.
    /// </summary>
    public MetricWithInterval CompareNdcg(RecommendationMetrics other, int k, int samples = 1000, ulong seed = 7)
    {
        if (other.Users != Users)
        {
            throw new ArgumentException($"Paired comparison needs the same users: {Users} vs {other.Users}.");
        }

        int[] idx = Enumerable.Range(0, Users).ToArray();
        double Gain(int r) => r < k ? 1.0 / Math.Log2(r + 2) : 0.0;
        return Bootstrap(idx, i => Gain(Ranks[i]) - Gain(other.Ranks[i]), samples, seed);
    }

    private static MetricWithInterval Bootstrap(IReadOnlyList<int> values, Func<int, double> f, int samples, ulong seed)
    {
        int n = values.Count;
        if (n == 0)
        {
            return new MetricWithInterval(0, 0, 0);
        }

        double[] x = values.Select(f).ToArray();
        double mean = x.Average();
        if (samples <= 0)
        {
            return new MetricWithInterval(mean, mean, mean);
        }

        var g = new Tensors.SeededRandom(seed);
        double[] means = new double[samples];
        for (int s = 0; s < samples; s++)
        {
            double sum = 0;
            for (int i = 0; i < n; i++)
            {
                sum += x[g.NextInt(n)];
            }

            means[s] = sum / n;
        }

        Array.Sort(means);
        return new MetricWithInterval(mean, means[(int)(0.025 * (samples - 1))], means[(int)Math.Ceiling(0.975 * (samples - 1))]);
    }
}
