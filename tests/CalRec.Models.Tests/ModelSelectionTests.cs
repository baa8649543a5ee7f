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
}
