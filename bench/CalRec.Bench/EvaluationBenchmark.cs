using System.Diagnostics;
using CalRec.Data.Splits;
using CalRec.Recommenders.Evaluation;
using CalRec.Recommenders.LlmSeqSim;
using CalRec.Tensors;
using CalRec.Tensors.Threading;

namespace CalRec.Bench;

/// <summary>
/// Full-ranking evaluation speed at amazon-beauty's size: 22,363 users × 12,101 items, scored by a dot-product model of
/// dimension 64 (GEMM blocks), seen items excluded, ranks + top-20 coverage, no bootstrap.
/// </summary>
internal static class EvaluationBenchmark
{
    public static BenchResult Run(int users = 22_363, int items = 12_101, int dim = 64)
    {
        var g = new SeededRandom(5);
        float[] userVectors = new float[items * dim];
        g.FillNormal(userVectors, 0f, 1f);
        var scorer = new LlmSeqSimScorer(userVectors, dim, SessionAggregation.Mean, maxHistory: 50);
        var cases = new List<EvaluationCase>(users);
        for (int u = 0; u < users; u++)
        {
            int[] history = Enumerable.Range(0, 4 + g.NextInt(12)).Select(_ => g.NextInt(items)).ToArray();
            cases.Add(new EvaluationCase(u, history, g.NextInt(items)));
        }

        var options = new RecommendationEvaluatorOptions { BootstrapSamples = 0 };
        RecommendationEvaluator.Evaluate(scorer, cases.Take(512).ToList(), options);
        var sw = Stopwatch.StartNew();
        RecommendationEvaluator.Evaluate(scorer, cases, options);
        double s = sw.Elapsed.TotalSeconds;
        return new BenchResult
        {
            Name = "evaluate-full-ranking",
            Config = $"users={users},items={items},dim={dim}",
            Threads = WorkerPool.Shared.ThreadCount,
            UsersPerSecond = Math.Round(users / s, 0),
            Seconds = Math.Round(s, 3),
        };
    }
}
