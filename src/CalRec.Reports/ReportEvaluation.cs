using System.Diagnostics;
using CalRec.Data;
using CalRec.Data.Splits;
using CalRec.Recommenders;
using CalRec.Recommenders.CalRec;
using CalRec.Recommenders.Evaluation;
using CalRec.Recommenders.Grounding;
using CalRec.Reports.Curves;

namespace CalRec.Reports;

/// <summary>Evaluates models for a <see cref="RunReport"/>: every run on the same test users, with the same protocol.</summary>
public static class ReportEvaluation
{
    /// <summary>Cut-offs of the report's metric table; the curves over K run from 1 to the largest.</summary>
    public static readonly IReadOnlyList<int> Ks = [1, 5, 10, 20, 50];

    /// <summary>The seed of the test-user sample: the same users as <c>calrec evaluate --users N</c>.</summary>
    public const ulong SampleSeed = 0xE7A1UL;

    /// <summary>
    /// Evaluates each named model on <paramref name="data"/>'s test users (all, or a seeded sample of
    /// <paramref name="users"/>), with the first model's catalogue; reads each model's metrics file when present; for
    /// CALRec models evaluates every grounding path on <paramref name="groundingUsers"/> of those users (0: skipped).
    /// </summary>
    public static RunReport Evaluate(string title, InteractionDataset data, IReadOnlyList<(string Name, string Path, RecommenderModel Model)> models, int users = 0,
        int groundingUsers = 0, Action<string>? log = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (models.Count == 0)
        {
            throw new ArgumentException("A report needs at least one model.");
        }

        RecommenderModel first = models[0].Model;
        foreach ((string name, string path, RecommenderModel m) in models.Skip(1))
        {
            if (m.ItemCount != first.ItemCount || Enumerable.Range(0, m.ItemCount).Any(i => m.Catalog[i].Id != first.Catalog[i].Id))
            {
                throw new ArgumentException($"{path} ({name}) has a different catalogue from {models[0].Path}: a comparison needs the same items in the same order.");
            }
        }

        IReadOnlyList<EvaluationCase> all = EvaluationCases.Test(first, data, log);
        if (all.Count == 0)
        {
            throw new ArgumentException($"{data.Name} has no test users (each needs at least three interactions).");
        }

        IReadOnlyList<EvaluationCase> cases = users > 0 && users < all.Count ? CaseSampling.Sample(all, users, SampleSeed) : all;
        int[] decileOf = PopularityDeciles(all, first.ItemCount);
        double[] targets = new double[10];
        foreach (EvaluationCase c in cases)
        {
            targets[decileOf[c.Target]] += 1.0 / cases.Count;
        }

        var options = new RecommendationEvaluatorOptions { Ks = Ks, KeepTopLists = true };
        var runs = new List<ReportRun>();
        foreach ((string name, string path, RecommenderModel model) in models)
        {
            cancellation.ThrowIfCancellationRequested();
            log?.Invoke($"evaluating {name} on {cases.Count:N0} test users");
            RecommendationMetrics metrics = RecommendationEvaluator.Evaluate(model, cases, options);
            var domains = metrics.BreakDown(i => model.Catalog[cases[i].Target].Domain ?? data.Name);
            double[] recommended = new double[10];
            int slots = 0;
            foreach (int[] list in metrics.TopLists!)
            {
                foreach (int item in list.Take(10))
                {
                    recommended[decileOf[item]]++;
                    slots++;
                }
            }

            for (int d = 0; d < 10; d++)
            {
                recommended[d] /= Math.Max(1, slots);
            }

            string curvePath = TrainingCurveFile.PathFor(path);
            IReadOnlyList<TrainingCurvePoint> curve = File.Exists(curvePath) ? TrainingCurveFile.Read(curvePath) : [];
            IReadOnlyList<GroundingPathResult> grounding = model is CalRecModel calrec && groundingUsers > 0
                ? Grounding(calrec, data, CaseSampling.Sample(cases, groundingUsers, seed: 11), log, cancellation)
                : [];
            runs.Add(new ReportRun(name, path, model, metrics, domains, recommended, curve, grounding));
        }

        string protocol = runs[0].Metrics.Protocol + (cases.Count < all.Count ? $"; a seeded sample of {cases.Count:N0} of {all.Count:N0} test users" : $"; all {all.Count:N0} test users");
        return new RunReport(title, data.Name, protocol, cases.Count, targets, runs, DateTimeOffset.UtcNow);
    }

    /// <summary>
    /// Item-popularity deciles: items ordered by how often they occur in the users' histories before their test items
    /// (most first, ties by index), cut into ten groups of equal item counts; decile 0 is the most popular tenth.
    /// </summary>
    public static int[] PopularityDeciles(IReadOnlyList<EvaluationCase> cases, int itemCount)
    {
        ArgumentNullException.ThrowIfNull(cases);
        long[] counts = new long[itemCount];
        foreach (EvaluationCase c in cases)
        {
            foreach (int item in c.History)
            {
                counts[item]++;
            }
        }

        int[] order = Enumerable.Range(0, itemCount).OrderByDescending(i => counts[i]).ThenBy(i => i).ToArray();
        int[] decile = new int[itemCount];
        for (int r = 0; r < itemCount; r++)
        {
            decile[order[r]] = (int)((long)r * 10 / itemCount);
        }

        return decile;
    }

    private static List<GroundingPathResult> Grounding(CalRecModel model, InteractionDataset data, IReadOnlyList<EvaluationCase> cases, Action<string>? log, CancellationToken cancellation)
    {
        float[] popularity = model.Towers.Popularity is null ? GroundedScorer.TrainingPopularity(model, new LeaveOneOutSplit(data)) : [];
        var paths = new List<(string Label, GroundingOptions Options)>
        {
            ("dense", new GroundingOptions { Path = GroundingPath.Dense }),
            ("BM25 quasi-round-robin", new GroundingOptions { Path = GroundingPath.Bm25 }),
            ("embedding (BIGRec)", new GroundingOptions { Path = GroundingPath.Embedding }),
            ("trie-constrained generation", new GroundingOptions { Path = GroundingPath.Constrained }),
        };
        if (model.Grounding.Path == GroundingPath.Fusion)
        {
            paths.Add(("fusion (the model's tuned settings)", model.Grounding));
        }

        var results = new List<GroundingPathResult>();
        foreach ((string label, GroundingOptions options) in paths)
        {
            cancellation.ThrowIfCancellationRequested();
            log?.Invoke($"grounding path {label} on {cases.Count:N0} test users");
            var scorer = new GroundedScorer(model, options, popularity: popularity.Length > 0 ? popularity : null);
            var clock = Stopwatch.StartNew();
            RecommendationMetrics metrics = RecommendationEvaluator.Evaluate(scorer, cases, new RecommendationEvaluatorOptions { Ks = [10] });
            results.Add(new GroundingPathResult(label, metrics, clock.Elapsed.TotalSeconds * 1000 / cases.Count));
        }

        return results;
    }
}
