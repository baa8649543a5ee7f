using CalRec.Models.Training;
using CalRec.Tensors;

namespace CalRec.Models.Tests;

/// <summary>
/// The one training loop, driven by a scripted run on a fake clock: every step takes a known time, every validation
/// returns a scripted value, so budgets, cadences, selection, checkpoints and resuming are checked exactly.
/// </summary>
[TestFixture]
public class TrainingLoopTests
{
    [TestCase(7.0, 2, TestName = "an epoch that would end past the budget does not start")]
    [TestCase(6.0, 2, TestName = "an epoch that ends exactly at the budget runs")]
    [TestCase(2.0, 1, TestName = "the first epoch always runs")]
    [TestCase(null, 5, TestName = "no budget, every epoch")]
    public void ABudgetInWholeEpochsStopsBeforeAnEpochThatWouldOverrunIt(double? budgetSeconds, int epochs)
    {
        var run = new ScriptedRun(new FakeClock(), stepSeconds: 1);
        var plan = new TrainingPlan { Epochs = 5, StepsPerEpoch = 3, BudgetInWholeEpochs = true, TimeBudget = budgetSeconds is double b ? TimeSpan.FromSeconds(b) : null };
        TrainingOutcome outcome = new TrainingLoop(plan, new EarlyStopping(true, 0), time: run.Clock).Run(run);
        Assert.That(run.Steps.Count, Is.EqualTo(epochs * 3));
        Assert.That(outcome.Next, Is.EqualTo(new TrainingPosition(epochs, 0)));
        Assert.That(outcome.OutOfTime, Is.EqualTo(epochs < 5));
    }

    [Test]
    public void AStepBudgetEndsTheRunAtTheFirstStepThatReachesItAndValidatesThere()
    {
        var run = new ScriptedRun(new FakeClock(), stepSeconds: 1);
        var plan = new TrainingPlan { Epochs = 3, StepsPerEpoch = 10, TimeBudget = TimeSpan.FromSeconds(4.5) };
        TrainingOutcome outcome = new TrainingLoop(plan, new EarlyStopping(true, 0), time: run.Clock).Run(run);
        Assert.That(run.Steps, Has.Count.EqualTo(5));
        Assert.That(run.Validations, Is.EqualTo(new[] { 5 }), "the step that reached the budget is validated");
        Assert.That((outcome.OutOfTime, outcome.Next), Is.EqualTo((true, new TrainingPosition(0, 5))));
        Assert.That(run.Reports.Max(r => r.Remaining), Is.LessThanOrEqualTo(TimeSpan.FromSeconds(4.5)), "time left never exceeds the budget");
        Assert.That(run.Reports[0].Remaining, Is.EqualTo(TimeSpan.FromSeconds(3.5)), "the nearer end: 3.5 s of budget, not 29 steps");
    }

    [Test]
    public void AResumedRunsEarlierTimeCountsAgainstTheBudget()
    {
        var run = new ScriptedRun(new FakeClock(), stepSeconds: 1);
        var plan = new TrainingPlan { Epochs = 1, StepsPerEpoch = 10, TimeBudget = TimeSpan.FromSeconds(6) };
        new TrainingLoop(plan, new EarlyStopping(true, 0), time: run.Clock).Run(run, new TrainingPosition(0, 2), elapsedBefore: TimeSpan.FromSeconds(4));
        Assert.That(run.Steps, Is.EqualTo(new[] { 2, 3 }));
    }

    [TestCase(4, 10, new[] { 4, 8, 10, 14, 18, 20 }, TestName = "every 4 steps and at each epoch's end")]
    [TestCase(4, 9, new[] { 4, 9, 13, 18 }, TestName = "a validation due within half an interval of the epoch's end is the epoch's own")]
    [TestCase(0, 10, new[] { 10, 20 }, TestName = "0: at epoch ends only")]
    public void ValidationCadence(int every, int stepsPerEpoch, int[] validatedAfter)
    {
        var run = new ScriptedRun(new FakeClock(), stepSeconds: 1);
        new TrainingLoop(new TrainingPlan { Epochs = 2, StepsPerEpoch = stepsPerEpoch, ValidateEvery = every }, new EarlyStopping(true, 0), time: run.Clock).Run(run);
        Assert.That(run.Validations, Is.EqualTo(validatedAfter));
    }

    [Test]
    public void MaxStepsEndsTheRunMidEpochAndValidatesItsLastStep()
    {
        var run = new ScriptedRun(new FakeClock(), stepSeconds: 1);
        TrainingOutcome outcome = new TrainingLoop(new TrainingPlan { Epochs = 3, StepsPerEpoch = 10, MaxSteps = 13 }, new EarlyStopping(true, 0), time: run.Clock).Run(run);
        Assert.That(run.Steps, Has.Count.EqualTo(13));
        Assert.That(run.Validations, Is.EqualTo(new[] { 10, 13 }));
        Assert.That(outcome.Next, Is.EqualTo(new TrainingPosition(1, 3)));
    }

    [Test]
    public void EarlyStoppingKeepsTheBestWeightsAndStopsAfterPatience()
    {
        using var weight = ManagedTensor.from([0f], 1);
        var best = new WeightsSnapshot([("w", weight)]);
        var run = new ScriptedRun(new FakeClock(), stepSeconds: 1, validation: [0.1, 0.3, 0.2, 0.25, 0.5])
        {
            // Each step writes its 1-based number into the weight, so the snapshot says which step was best.
            OnStep = global => weight.Data[0] = global + 1,
        };
        var selection = new EarlyStopping(higherIsBetter: true, patience: 2);
        TrainingOutcome outcome = new TrainingLoop(new TrainingPlan { Epochs = 10, StepsPerEpoch = 2 }, selection, best, run.Clock).Run(run);
        Assert.That(outcome.StoppedEarly, Is.True);
        Assert.That(run.Validations, Is.EqualTo(new[] { 2, 4, 6, 8 }), "two validations without a better value after 0.3");
        Assert.That(run.Reports.Where(r => r.Validation is not null).Select(r => r.Improved), Is.EqualTo(new[] { true, true, false, false }));
        Assert.That(run.ImprovedAt, Is.EqualTo(new[] { 2, 4 }), "the run hears of each new best before the weights are captured");
        best.Restore();
        Assert.That(weight.Data[0], Is.EqualTo(4f), "the weights of the best validation (after step 4)");
    }

    [Test]
    public void ACancelledRunCheckpointsWhereItStandsThrowsAndResumesToTheSameSteps()
    {
        var whole = new ScriptedRun(new FakeClock(), stepSeconds: 1);
        var plan = new TrainingPlan { Epochs = 3, StepsPerEpoch = 4, Checkpoints = true, CheckpointEverySteps = 5 };
        new TrainingLoop(plan, new EarlyStopping(true, 0), time: whole.Clock).Run(whole);

        using var cancel = new CancellationTokenSource();
        var first = new ScriptedRun(new FakeClock(), stepSeconds: 1) { OnStep = global => { if (global == 6) { cancel.Cancel(); } } };
        Assert.That(() => new TrainingLoop(plan, new EarlyStopping(true, 0), time: first.Clock).Run(first, cancellation: cancel.Token),
            Throws.InstanceOf<OperationCanceledException>());
        Assert.That(first.Checkpoints.Select(c => c.Next), Is.EqualTo(new[] { new TrainingPosition(1, 0), new TrainingPosition(1, 1), new TrainingPosition(1, 3) }),
            "after epoch 1's validation, every 5 steps, and where the run was cancelled (after 7 steps)");
        Assert.That(first.Checkpoints[^1].Elapsed, Is.EqualTo(TimeSpan.FromSeconds(7)));

        var second = new ScriptedRun(new FakeClock(), stepSeconds: 1);
        (TrainingPosition at, TimeSpan elapsed) = first.Checkpoints[^1];
        new TrainingLoop(plan, new EarlyStopping(true, 0), time: second.Clock).Run(second, at, elapsed);
        Assert.That(first.Steps.Concat(second.Steps), Is.EqualTo(whole.Steps), "no step repeated, none lost");
        Assert.That(second.Epochs, Is.EqualTo(new[] { 1, 2 }), "the resumed run re-enters epoch 1 (its batches are rebuilt) midway");
    }

    [Test]
    public void ThroughputAndEpochLossCountTrainingStepsOnly()
    {
        var run = new ScriptedRun(new FakeClock(), stepSeconds: 2, validationSeconds: 10);
        new TrainingLoop(new TrainingPlan { Epochs = 1, StepsPerEpoch = 4, ValidateEvery = 2 }, new EarlyStopping(true, 0), time: run.Clock).Run(run);
        TrainingReport last = run.Reports[^1];
        Assert.That(last.TokensPerSecond, Is.EqualTo(50).Within(1e-9), "100 tokens per 2-second step; validation time excluded");
        Assert.That(last.EpochLoss, Is.EqualTo((1 + 0.5 + (1 / 3.0) + 0.25) / 4).Within(1e-6));
        Assert.That(last.EpochTime, Is.EqualTo(TimeSpan.FromSeconds(8)));
        Assert.That(last.EndOfEpoch, Is.True);
    }

    [Test]
    public void ATokenBatchSplitsIntoMicroBatchesWhoseSharesWeightTheirCountedTargets()
    {
        // Three rows of four tokens; the middle row has two skipped targets.
        int[] ids = Enumerable.Range(0, 12).ToArray();
        int[] targets = [1, 2, 3, 4, 5, TokenBatch.Ignore, TokenBatch.Ignore, 8, 9, 10, 11, 12];
        IReadOnlyList<TokenBatch> parts = new TokenBatch(ids, targets, 3, 4).Split(3);
        Assert.That(parts.Select(p => p.Batch), Is.EqualTo(new[] { 1, 1, 1 }));
        Assert.That(parts.Select(p => p.Share), Is.EqualTo(new[] { 0.4f, 0.2f, 0.4f }));
        Assert.That(parts.SelectMany(p => p.Ids), Is.EqualTo(ids));
        Assert.That(parts.SelectMany(p => p.Targets), Is.EqualTo(targets));
        Assert.That(new TokenBatch(ids, targets, 3, 4).Split(5), Has.Count.EqualTo(3), "at most one part per row");
    }

    private sealed class FakeClock : TimeProvider
    {
        private long _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _ticks;

        public void Advance(double seconds) => _ticks += (long)(seconds * TimeSpan.TicksPerSecond);
    }

    // Steps take stepSeconds on the fake clock, validations validationSeconds; validation values are scripted (then 0).
    private sealed class ScriptedRun(FakeClock clock, double stepSeconds, double[]? validation = null, double validationSeconds = 0) : ITrainingRun
    {
        private int _validated;

        public FakeClock Clock => clock;

        public Action<int>? OnStep { get; init; }

        public List<int> Steps { get; } = [];

        public List<int> Epochs { get; } = [];

        public List<int> Validations { get; } = [];

        public List<int> ImprovedAt { get; } = [];

        public List<(TrainingPosition Next, TimeSpan Elapsed)> Checkpoints { get; } = [];

        public List<TrainingReport> Reports { get; } = [];

        public void StartEpoch(int epoch) => Epochs.Add(epoch);

        public StepResult Step(TrainingPosition position, int globalStep)
        {
            clock.Advance(stepSeconds);
            Steps.Add(globalStep);
            OnStep?.Invoke(globalStep);
            return new StepResult(1f / (globalStep + 1), 100);
        }

        public double Validate()
        {
            clock.Advance(validationSeconds);
            Validations.Add(Steps.Count == 0 ? 0 : Steps[^1] + 1);
            return validation is not null && _validated < validation.Length ? validation[_validated++] : 0;
        }

        public void Improved() => ImprovedAt.Add(Steps[^1] + 1);

        public void Checkpoint(TrainingPosition next, TimeSpan elapsed) => Checkpoints.Add((next, elapsed));

        public void Report(TrainingReport report) => Reports.Add(report);
    }
}
