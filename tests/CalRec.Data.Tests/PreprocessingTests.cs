using CalRec.Data;
using CalRec.Data.Preprocessing;
using CalRec.Data.Splits;

namespace CalRec.Data.Tests;

[TestFixture]
public class PreprocessingTests
{
    private static InteractionDataset Toy(bool timed = false)
    {
        var items = Enumerable.Range(0, 5).Select(i => new CatalogItem($"i{i}", $"t{i}", string.Empty)).ToList();
        UserSequence U(string id, string[] seq, long start) => new(id, seq, timed ? seq.Select((_, k) => start + (10 * k)).ToList() : null);
        return InteractionDataset.Create("toy", items,
        [
            U("a", ["i0", "i0", "i1", "i2"], 0),
            U("b", ["i0", "i1", "i2", "i1"], 5),
            U("c", ["i3", "i0"], 100),
            U("d", ["i1", "i4", "i0", "i2", "i1"], 1),
        ]);
    }

    [Test]
    public void ConsecutiveDuplicatesAreRemovedAndTimestampsFollow()
    {
        InteractionDataset d = Preprocessor.Apply(Toy(timed: true), new PreprocessingOptions());
        Assert.That(d.Sequences[0], Is.EqualTo(new[] { 0, 1, 2 }));
        Assert.That(d.Timestamps![0], Is.EqualTo(new long[] { 0, 20, 30 }));
    }

    [Test]
    public void IterativeKCoreRemovesUntilStable()
    {
        // 2-core: i3 and i4 occur once -> removed; then c has 1 item -> removed; the rest keep >= 2.
        InteractionDataset d = Preprocessor.Apply(Toy(), new PreprocessingOptions { KCore = 2 });
        Assert.That(d.Users, Is.EqualTo(new[] { "a", "b", "d" }));
        Assert.That(d.Items.Select(i => i.Id), Is.EqualTo(new[] { "i0", "i1", "i2" }));
        foreach (int[] s in d.Sequences)
        {
            Assert.That(s.Length, Is.GreaterThanOrEqualTo(2));
        }

        int[] counts = new int[d.ItemCount];
        foreach (int i in d.Sequences.SelectMany(s => s))
        {
            counts[i]++;
        }

        Assert.That(counts, Is.All.GreaterThanOrEqualTo(2));
    }

    [Test]
    public void MaxHistoryKeepsTheMostRecent()
    {
        InteractionDataset d = Preprocessor.Apply(Toy(), new PreprocessingOptions { MaxHistory = 2 });
        Assert.That(d.Sequences[3], Is.EqualTo(new[] { 2, 1 }));
    }

    [Test]
    public void StatisticsUseNearestRankPercentiles()
    {
        DatasetStatistics s = DatasetStatistics.Of(Toy());
        Assert.That((s.Users, s.Items, s.Interactions), Is.EqualTo((4, 5, 15L)));
        Assert.That(s.LengthPercentiles, Is.EqualTo(new[] { 2, 2, 4, 4, 5, 5 }));
        Assert.That(s.Density, Is.EqualTo(12.0 / 20), "12 distinct user-item pairs (15 interactions with repeats) of 20 cells");
        Assert.That(s.ItemsWithoutInteractions, Is.EqualTo(0));
    }

    [Test]
    public void TemporalSplitCutsByGlobalTime()
    {
        InteractionDataset d = Toy(timed: true);
        var split = new TemporalSplit(d, trainFraction: 0.5, validationFraction: 0.25);
        // All 15 timestamps sorted; cuts at positions 7 and 11.
        long[] all = d.Timestamps!.SelectMany(t => t).Order().ToArray();
        Assert.That(split.TrainEnd, Is.EqualTo(all[7]));
        Assert.That(split.ValidationEnd, Is.EqualTo(all[11]));
        foreach (EvaluationCase c in split.Validation.Concat(split.Test))
        {
            Assert.That(c.History, Is.EqualTo(d.Sequences[c.User][..c.History.Length]), "history is everything before the target");
        }

        Assert.That(split.Train.Sum(t => t.Length) + split.Validation.Count + split.Test.Count, Is.EqualTo(15 - split.Train.Count(t => t.Length == 0)));
        Assert.Throws<ArgumentException>(() => new TemporalSplit(Toy(timed: false)));
    }
}
