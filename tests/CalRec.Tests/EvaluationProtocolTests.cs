using CalRec.Data.Core;
using CalRec.Data.Normalized;
using CalRec.Data.Splits;
using CalRec.Evaluation;

namespace CalRec.Tests;

[TestFixture]
public class EvaluationProtocolTests
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
    public void SampledRankCountsOnlyTheNegatives()
    {
        float[] s = [0.1f, 0.5f, 0.5f, 0.9f, 0.2f];
        Assert.That(RankingEvaluator.SampledRankOf(s, 2, [0, 4]), Is.EqualTo(0));
        Assert.That(RankingEvaluator.SampledRankOf(s, 2, [1, 3]), Is.EqualTo(2), "0.9 is higher and item 1 ties with a smaller index");
        Assert.That(RankingEvaluator.SampledRankOf(s, 1, [2]), Is.EqualTo(0), "a tie with a larger index ranks after");
    }

    [Test]
    public void NegativesAvoidTheHistoryAndTargetAndAreDeterministic()
    {
        var c = new EvaluationCase(0, [1, 2, 3], 4);
        int[] a = RankingEvaluator.SampleNegatives(50, c, 20, 7, 3);
        Assert.That(a, Has.Length.EqualTo(20));
        Assert.That(a, Is.Unique);
        Assert.That(a.Intersect([1, 2, 3, 4]), Is.Empty);
        Assert.That(RankingEvaluator.SampleNegatives(50, c, 20, 7, 3), Is.EqualTo(a));
        Assert.That(RankingEvaluator.SampleNegatives(50, c, 20, 7, 4), Is.Not.EqualTo(a), "each case draws its own negatives");
        Assert.That(RankingEvaluator.SampleNegatives(6, c, 20, 7, 3), Is.EquivalentTo(new[] { 0, 5 }), "a small catalogue gives what it has");
    }

    [Test]
    public void SampledProtocolIsLabelledAndEasierThanFullRanking()
    {
        // Item scores fall with the index, the targets sit at 30..39 of 100 items: full-ranking HR@10 is 0; with 9
        // negatives the target is often first.
        float[] scores = Enumerable.Range(0, 100).Select(i => 100f - i).ToArray();
        var cases = Enumerable.Range(0, 10).Select(u => new EvaluationCase(u, [], 30 + u)).ToList();
        RankingMetrics full = RankingEvaluator.Evaluate(new FixedScorer(scores), cases, new RankingEvaluatorOptions { Ks = [10], BootstrapSamples = 0 });
        RankingMetrics sampled = RankingEvaluator.Evaluate(new FixedScorer(scores), cases, new RankingEvaluatorOptions { Ks = [10], BootstrapSamples = 0, SampledNegatives = 9 });
        Assert.That(full.IsSampled, Is.False);
        Assert.That(sampled.IsSampled, Is.True);
        Assert.That(sampled.Protocol, Does.Contain("NOT full ranking"));
        Assert.That(full["hr@10"].Value, Is.EqualTo(0));
        Assert.That(sampled["hr@10"].Value, Is.EqualTo(1), "any 10-item list containing the target hits at K=10");
        for (int i = 0; i < cases.Count; i++)
        {
            int[] negatives = RankingEvaluator.SampleNegatives(100, cases[i], 9, 7, i);
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
        RankingMetrics all = RankingEvaluator.Evaluate(new FixedScorer(scores), cases, new RankingEvaluatorOptions { Ks = [1, 2], BootstrapSamples = 0 });
        Assert.That(all.Ranks, Is.EqualTo(new[] { 0, 1, 2, 1 }));
        var byDomain = all.ByTargetDomain(cases, data);
        Assert.That(byDomain.Select(g => g.Group), Is.EqualTo(new[] { "books", "toys" }));
        Assert.That(byDomain[0].Metrics["hr@1"].Value, Is.EqualTo(1));
        Assert.That(byDomain[1].Metrics.Users, Is.EqualTo(3));
        Assert.That(byDomain[1].Metrics["hr@2"].Value, Is.EqualTo(2.0 / 3).Within(1e-12));
        Assert.That(byDomain[1].Metrics["ndcg@2"].Value, Is.EqualTo((1 / Math.Log2(3) * 2) / 3).Within(1e-12));
    }
}
