using CalRec.Data;
using CalRec.Data.Splits;
using CalRec.Recommenders;
using CalRec.Recommenders.Evaluation;
using CalRec.Recommenders.MostPopular;

namespace CalRec.Recommenders.Tests;

[TestFixture]
public class RankingEvaluatorTests
{
    private sealed class FixedScorer(float[] scores) : IRecommenderScorer
    {
        public int ItemCount => scores.Length;

        public void Score(IReadOnlyList<int[]> histories, Span<float> output)
        {
            for (int i = 0; i < histories.Count; i++)
            {
                scores.CopyTo(output.Slice(i * scores.Length, scores.Length));
            }
        }
    }

    [Test]
    public void RankCountsHigherScoresAndBreaksTiesByIndex()
    {
        float[] s = [0.1f, 0.5f, 0.5f, 0.9f, 0.2f];
        Assert.That(RecommendationEvaluator.RankOf(s, 2, null), Is.EqualTo(2), "0.9 is higher; item 1 ties and comes first");
        Assert.That(RecommendationEvaluator.RankOf(s, 1, null), Is.EqualTo(1));
        Assert.That(RecommendationEvaluator.RankOf(s, 2, [3]), Is.EqualTo(1), "seen item 3 is removed");
        Assert.That(RecommendationEvaluator.RankOf(s, 2, [1, 3]), Is.EqualTo(0));
        Assert.That(RecommendationEvaluator.RankOf(s, 0, [0]), Is.EqualTo(4), "the target itself is never excluded");
    }

    [Test]
    public void MetricsMatchHandComputedValues()
    {
        // Target ranks 0, 1, 4 and 6 among 8 items with scores 7..0 for items 0..7 (no exclusion).
        float[] scores = [7, 6, 5, 4, 3, 2, 1, 0];
        EvaluationCase[] cases = [new(0, [], 0), new(1, [], 1), new(2, [], 4), new(3, [], 6)];
        RecommendationMetrics m = RecommendationEvaluator.Evaluate(new FixedScorer(scores), cases, new RecommendationEvaluatorOptions { Ks = [1, 5, 20], BootstrapSamples = 200 });
        Assert.That(m.Ranks, Is.EqualTo(new[] { 0, 1, 4, 6 }));
        Assert.That(m["hr@1"].Value, Is.EqualTo(0.25));
        Assert.That(m["hr@5"].Value, Is.EqualTo(0.75));
        Assert.That(m["recall@20"].Value, Is.EqualTo(1.0), "K larger than the catalogue counts every target");
        Assert.That(m["ndcg@5"].Value, Is.EqualTo((1 + (1 / Math.Log2(3)) + (1 / Math.Log2(6))) / 4).Within(1e-12));
        Assert.That(m["mrr@5"].Value, Is.EqualTo((1 + 0.5 + 0.2) / 4).Within(1e-12));
        Assert.That(m["ndcg@20"].Value, Is.EqualTo((1 + (1 / Math.Log2(3)) + (1 / Math.Log2(6)) + (1 / Math.Log2(8))) / 4).Within(1e-12));
        Assert.That(m.CoverageAtMaxK, Is.EqualTo(1.0));
        MetricWithInterval ci = m["ndcg@5"];
        Assert.That(ci.Low, Is.LessThanOrEqualTo(ci.Value));
        Assert.That(ci.High, Is.GreaterThanOrEqualTo(ci.Value));
        Assert.That(ci.High - ci.Low, Is.GreaterThan(0));
        Assert.That(m.ToDictionary()["users"], Is.EqualTo(4));
    }

    [Test]
    public void TopKAgreesWithAFullSortOnRandomRowsWithTiesNaNsAndExclusions()
    {
        var g = new Tensors.SeededRandom(11);
        var heap = new PriorityQueue<int, (float, int)>();
        for (int trial = 0; trial < 300; trial++)
        {
            int n = 1 + g.NextInt(60), k = g.NextInt(n + 5);
            // Few distinct values force ties; some NaNs rank as -infinity.
            float[] row = Enumerable.Range(0, n).Select(_ => g.NextInt(10) == 0 ? float.NaN : g.NextInt(8) - 4f).ToArray();
            HashSet<int>? excluded = trial % 3 == 0 ? null : Enumerable.Range(0, n).Where(_ => g.NextInt(4) == 0).ToHashSet();
            int[] expected = Enumerable.Range(0, n).Where(j => excluded?.Contains(j) != true)
                .OrderByDescending(j => float.IsNaN(row[j]) ? float.NegativeInfinity : row[j]).ThenBy(j => j).Take(k).ToArray();
            var result = new int[k];
            int found = TopK.Select(row, k, excluded, heap, result);
            Assert.That(result[..found], Is.EqualTo(expected), $"trial {trial}: n {n}, k {k}");
            Assert.That(TopK.Select(row, k, excluded), Is.EqualTo(expected));
        }
    }

    [Test]
    public void SeenItemsAreExcludedByDefaultAndCanBeKept()
    {
        float[] scores = [9, 8, 7, 6];
        EvaluationCase[] cases = [new(0, [0, 1], 2)];
        Assert.That(RecommendationEvaluator.Evaluate(new FixedScorer(scores), cases).Ranks[0], Is.EqualTo(0));
        Assert.That(RecommendationEvaluator.Evaluate(new FixedScorer(scores), cases, new RecommendationEvaluatorOptions { ExcludeSeen = false }).Ranks[0], Is.EqualTo(2));
    }

    [Test]
    public void MostPopularOnLeaveOneOutSplit()
    {
        var items = Enumerable.Range(0, 5).Select(i => new CatalogItem($"i{i}", $"item {i}", string.Empty)).ToList();
        UserSequence[] users =
        [
            new("a", ["i0", "i1", "i2", "i3"], null),
            new("b", ["i0", "i1", "i4", "i2"], null),
            new("c", ["i1", "i0", "i3", "i4"], null),
        ];
        var split = new LeaveOneOutSplit(InteractionDataset.Create("toy", items, users));
        Assert.That(split.Train.Select(t => t.Length), Is.EqualTo(new[] { 2, 2, 2 }));
        Assert.That(split.Test.Select(c => c.Target), Is.EqualTo(new[] { 3, 2, 4 }));
        Assert.That(split.Validation.Select(c => c.Target), Is.EqualTo(new[] { 2, 4, 3 }));
        var pop = new MostPopularScorer(split.Train, 5);
        Assert.That(pop.Counts, Is.EqualTo(new float[] { 3, 3, 0, 0, 0 }));
        RecommendationMetrics m = RecommendationEvaluator.Evaluate(pop, split.Test, new RecommendationEvaluatorOptions { Ks = [1, 3], BootstrapSamples = 0 });
        // User a: seen {0,1,2}; remaining 3 (0), 4 (0): target 3 ties with 4 and wins by index -> rank 0.
        // User b: seen {0,1,4}; remaining 2, 3: target 2 -> rank 0. User c: seen {1,0,3}; remaining 2, 4: target 4 -> rank 1.
        Assert.That(m.Ranks, Is.EqualTo(new[] { 0, 0, 1 }));
    }

    [Test]
    public void PairedComparisonOfIdenticalModelsIsZero()
    {
        float[] scores = [3, 2, 1];
        EvaluationCase[] cases = [new(0, [], 1), new(1, [], 2)];
        RecommendationMetrics a = RecommendationEvaluator.Evaluate(new FixedScorer(scores), cases);
        MetricWithInterval d = a.CompareNdcg(a, 10);
        Assert.That((d.Value, d.Low, d.High), Is.EqualTo((0.0, 0.0, 0.0)));
    }

    [Test]
    public void SampledRankCountsOnlyTheNegatives()
    {
        float[] s = [0.1f, 0.5f, 0.5f, 0.9f, 0.2f];
        Assert.That(RecommendationEvaluator.SampledRankOf(s, 2, [0, 4]), Is.EqualTo(0));
        Assert.That(RecommendationEvaluator.SampledRankOf(s, 2, [1, 3]), Is.EqualTo(2), "0.9 is higher and item 1 ties with a smaller index");
        Assert.That(RecommendationEvaluator.SampledRankOf(s, 1, [2]), Is.EqualTo(0), "a tie with a larger index ranks after");
    }

    [Test]
    public void NegativesAvoidTheHistoryAndTargetAndAreDeterministic()
    {
        var c = new EvaluationCase(0, [1, 2, 3], 4);
        int[] a = RecommendationEvaluator.SampleNegatives(50, c, 20, 7, 3);
        Assert.That(a, Has.Length.EqualTo(20));
        Assert.That(a, Is.Unique);
        Assert.That(a.Intersect([1, 2, 3, 4]), Is.Empty);
        Assert.That(RecommendationEvaluator.SampleNegatives(50, c, 20, 7, 3), Is.EqualTo(a));
        Assert.That(RecommendationEvaluator.SampleNegatives(50, c, 20, 7, 4), Is.Not.EqualTo(a), "each case draws its own negatives");
        Assert.That(RecommendationEvaluator.SampleNegatives(6, c, 20, 7, 3), Is.EquivalentTo(new[] { 0, 5 }), "a small catalogue gives what it has");
    }

    [Test]
    public void SampledProtocolIsLabelledAndEasierThanFullRanking()
    {
        // Item scores fall with the index, the targets sit at 30..39 of 100 items: full-ranking HR@10 is 0; with 9
        // negatives the target is often first.
        float[] scores = Enumerable.Range(0, 100).Select(i => 100f - i).ToArray();
        var cases = Enumerable.Range(0, 10).Select(u => new EvaluationCase(u, [], 30 + u)).ToList();
        RecommendationMetrics full = RecommendationEvaluator.Evaluate(new FixedScorer(scores), cases, new RecommendationEvaluatorOptions { Ks = [10], BootstrapSamples = 0 });
        RecommendationMetrics sampled = RecommendationEvaluator.Evaluate(new FixedScorer(scores), cases, new RecommendationEvaluatorOptions { Ks = [10], BootstrapSamples = 0, SampledNegatives = 9 });
        Assert.That(full.IsSampled, Is.False);
        Assert.That(sampled.IsSampled, Is.True);
        Assert.That(sampled.Protocol, Does.Contain("NOT full ranking"));
        Assert.That(full["hr@10"].Value, Is.EqualTo(0));
        Assert.That(sampled["hr@10"].Value, Is.EqualTo(1), "any 10-item list containing the target hits at K=10");
        for (int i = 0; i < cases.Count; i++)
        {
            int[] negatives = RecommendationEvaluator.SampleNegatives(100, cases[i], 9, 7, i);
            Assert.That(sampled.Ranks[i], Is.EqualTo(negatives.Count(j => j < cases[i].Target)));
        }

        Assert.That(sampled.ToDictionary().ContainsKey("coverage@10"), Is.False, "coverage is a full-ranking notion");
    }

    [Test]
    public void BreakdownByTargetDomainRecomputesEachGroup()
    {
        var items = new List<CatalogItem> { new("a", "A", string.Empty, "books"), new("b", "B", string.Empty, "toys"), new("c", "C", string.Empty, "toys") };
        InteractionDataset data = InteractionDataset.Create("shop", items, [new UserSequence("u", ["a"], null)]);
        float[] scores = [3, 2, 1];
        var cases = new List<EvaluationCase> { new(0, [], 0), new(1, [], 1), new(2, [], 2), new(3, [0], 2) };
        RecommendationMetrics all = RecommendationEvaluator.Evaluate(new FixedScorer(scores), cases, new RecommendationEvaluatorOptions { Ks = [1, 2], BootstrapSamples = 0 });
        Assert.That(all.Ranks, Is.EqualTo(new[] { 0, 1, 2, 1 }));
        var byDomain = all.ByTargetDomain(cases, data);
        Assert.That(byDomain.Select(g => g.Group), Is.EqualTo(new[] { "books", "toys" }));
        Assert.That(byDomain[0].Metrics["hr@1"].Value, Is.EqualTo(1));
        Assert.That(byDomain[1].Metrics.Users, Is.EqualTo(3));
        Assert.That(byDomain[1].Metrics["hr@2"].Value, Is.EqualTo(2.0 / 3).Within(1e-12));
        Assert.That(byDomain[1].Metrics["ndcg@2"].Value, Is.EqualTo((1 / Math.Log2(3) * 2) / 3).Within(1e-12));
    }
}
