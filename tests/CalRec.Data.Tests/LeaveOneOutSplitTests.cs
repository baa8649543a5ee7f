using CalRec.Data.Splits;

namespace CalRec.Data.Tests;

public sealed class LeaveOneOutSplitTests
{
    private static InteractionDataset Data() => InteractionDataset.Create("d",
        [new("a", "A", ""), new("b", "B", ""), new("c", "C", ""), new("d", "D", "")],
        [new UserSequence("long", ["a", "b", "c", "d"], null), new UserSequence("two", ["b", "c"], null), new UserSequence("one", ["d"], null)]);

    [Test]
    public void TheEvaluationProtocolHoldsOutTheLastItemForTestAndTheOneBeforeForValidation()
    {
        var split = new LeaveOneOutSplit(Data());
        Assert.That(split.Train, Is.EqualTo(new[] { new[] { 0, 1 }, new[] { 1, 2 }, new[] { 3 } }));
        Assert.That(split.Validation.Select(c => (c.User, c.Target)), Is.EqualTo(new[] { (0, 2) }));
        Assert.That(split.Test.Select(c => (c.User, c.Target)), Is.EqualTo(new[] { (0, 3) }));
    }

    [Test]
    public void WithoutATestHoldOutTheLastItemValidatesAndEverythingElseTrains()
    {
        var split = new LeaveOneOutSplit(Data(), holdOutTest: false);
        Assert.That(split.Train, Is.EqualTo(new[] { new[] { 0, 1, 2 }, new[] { 1 }, new[] { 3 } }));
        Assert.That(split.Validation.Select(c => (c.User, c.History.Length, c.Target)), Is.EqualTo(new[] { (0, 3, 3), (1, 1, 2) }));
        Assert.That(split.Test, Is.Empty);
    }
}

public sealed class DensityTests
{
    [Test]
    public void RepeatedItemsDoNotPushDensityAboveOne()
    {
        var data = InteractionDataset.Create("r", [new("a", "A", ""), new("b", "B", "")],
            [new UserSequence("u", ["a", "a", "a", "b", "a"], null), new UserSequence("v", ["b", "b"], null)]);
        DatasetStatistics s = DatasetStatistics.Of(data);
        Assert.That(s.Interactions, Is.EqualTo(7));
        Assert.That(s.Density, Is.EqualTo(3.0 / 4), "three distinct user-item pairs of four");
        Assert.That(DatasetStatistics.ByDomain(data).Single().Statistics.Density, Is.EqualTo(3.0 / 4));
    }
}
