using CalRec.Models.Training;
using CalRec.Tensors;

namespace CalRec.Models.Tests;

[TestFixture]
public class ModelSelectionTests
{
    [Test]
    public void EarlyStoppingTracksTheBestAndStopsAfterPatience()
    {
        var higher = new EarlyStopping(higherIsBetter: true, patience: 2);
        Assert.That(higher.Offer(0.10), Is.True);
        Assert.That(higher.Offer(0.10), Is.False, "a tie is not an improvement");
        Assert.That(higher.ShouldStop, Is.False);
        Assert.That(higher.Offer(0.05), Is.False);
        Assert.That(higher.ShouldStop, Is.True);
        Assert.That(higher.Offer(0.20), Is.True);
        Assert.That((higher.Best, higher.Stale, higher.Validations, higher.ShouldStop), Is.EqualTo((0.20, 0, 4, false)));

        var lower = new EarlyStopping(higherIsBetter: false, patience: 1);
        Assert.That(lower.Offer(3.0), Is.True);
        Assert.That(lower.Offer(2.5), Is.True, "a lower loss is better");
        Assert.That(lower.Offer(2.7), Is.False);
        Assert.That(lower.ShouldStop, Is.True);
    }

    [Test]
    public void PatienceZeroNeverStopsAndMinimumValidationsHold()
    {
        var never = new EarlyStopping(higherIsBetter: true, patience: 0);
        never.Offer(1);
        for (int i = 0; i < 50; i++)
        {
            never.Offer(0);
        }

        Assert.That(never.ShouldStop, Is.False);

        var late = new EarlyStopping(higherIsBetter: true, patience: 1, minValidations: 4);
        late.Offer(1);
        late.Offer(0);
        Assert.That(late.ShouldStop, Is.False, "two validations of the four required");
        late.Offer(0);
        late.Offer(0);
        Assert.That(late.ShouldStop, Is.True);
    }

    [Test]
    public void RestoreContinuesExactlyWhereACheckpointLeftOff()
    {
        var a = new EarlyStopping(higherIsBetter: true, patience: 3);
        var b = new EarlyStopping(higherIsBetter: true, patience: 3);
        double[] values = [0.1, 0.3, 0.2, 0.25, 0.1, 0.4, 0.3];
        foreach (double v in values[..4])
        {
            a.Offer(v);
        }

        b.Restore(a.Best, a.Stale, a.Validations);
        foreach (double v in values[4..])
        {
            Assert.That(b.Offer(v), Is.EqualTo(a.Offer(v)));
            Assert.That((b.Best, b.Stale, b.ShouldStop), Is.EqualTo((a.Best, a.Stale, a.ShouldStop)));
        }
    }

    [Test]
    public void WeightsSnapshotRestoresCapturedValuesInPlace()
    {
        using ManagedTensor w = ManagedTensor.from([1f, 2f, 3f, 4f], 2, 2), bias = ManagedTensor.from([5f], 1);
        var snapshot = new WeightsSnapshot([("w", w), ("b", bias)]);
        snapshot.Restore();
        Assert.That(w.ToArray(), Is.EqualTo(new[] { 1f, 2f, 3f, 4f }), "nothing captured: restore leaves the weights");

        snapshot.Capture();
        w.Data.Fill(9f);
        bias.Data.Fill(-1f);
        snapshot.Restore();
        Assert.That(w.ToArray(), Is.EqualTo(new[] { 1f, 2f, 3f, 4f }));
        Assert.That(bias.ToArray(), Is.EqualTo(new[] { 5f }));
        Assert.That(snapshot.Values.Select(v => v.Name), Is.EqualTo(new[] { "w", "b" }));

        var saved = snapshot.Values.ToDictionary(v => v.Name, v => v.Values);
        var other = new WeightsSnapshot([("w", w), ("b", bias)]);
        other.Set(name => saved.GetValueOrDefault(name), "test");
        w.Data.Fill(0f);
        other.Restore();
        Assert.That(w.ToArray(), Is.EqualTo(new[] { 1f, 2f, 3f, 4f }));
        Assert.That(() => other.Set(name => name == "w" ? new float[3] : saved[name], "ckpt"),
            Throws.InstanceOf<InvalidDataException>().With.Message.Contains("ckpt").And.Message.Contains("'w'"));
    }
    [Test]
    public void WeightAverageFollowsTheWeightsWithAWarmedUpDecayAndSwapsInPlace()
    {
        using ManagedTensor w = ManagedTensor.from([0f, 10f], 2);
        var average = new WeightAverage([("w", w)], decay: 0.5f);
        float[] expected = [0f, 10f];
        float[][] steps = [[1f, 0f], [3f, 2f], [-2f, 4f], [5f, 5f]];
        for (int n = 0; n < steps.Length; n++)
        {
            steps[n].CopyTo(w.Data);
            average.Update();
            // d = min(0.5, (1 + n) / (10 + n)): 0.1, 0.1818..., 0.25, then 0.5 from the fourth update on.
            float d = Math.Min(0.5f, (1f + n) / (10f + n));
            expected = [(d * expected[0]) + ((1 - d) * steps[n][0]), (d * expected[1]) + ((1 - d) * steps[n][1])];
            Assert.That(average.Values.Single().Values, Is.EqualTo(expected).Within(1e-6f), $"after update {n + 1}");
        }

        Assert.That(average.Updates, Is.EqualTo(4));
        average.Swap();
        Assert.That((average.Swapped, w.ToArray()), Is.EqualTo((true, expected)));
        Assert.That(average.Update, Throws.InvalidOperationException, "the weights hold the average");
        average.Swap();
        Assert.That((average.Swapped, w.ToArray()), Is.EqualTo((false, new[] { 5f, 5f })));

        var resumed = new WeightAverage([("w", w)], decay: 0.5f);
        resumed.Restore(name => name == "w" ? (float[])expected.Clone() : null, 4, "ckpt");
        average.Update();
        resumed.Update();
        Assert.That(resumed.Values.Single().Values, Is.EqualTo(average.Values.Single().Values), "a restored average continues where it stopped");
        Assert.That(() => resumed.Restore(_ => new float[3], 4, "ckpt"), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("ckpt").And.Message.Contains("'w'"));
        Assert.That(() => new WeightAverage([("w", w)], 1f), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }
}
