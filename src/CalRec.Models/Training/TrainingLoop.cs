namespace CalRec.Models.Training;

/// <summary>Where a run stands: the next step to take (both 0-based).</summary>
/// <param name="Epoch">The epoch.</param>
/// <param name="Step">The step within the epoch.</param>
public readonly record struct TrainingPosition(int Epoch, int Step);

/// <summary>What one optimizer step tells the loop.</summary>
/// <param name="Loss">The step's training loss.</param>
/// <param name="Tokens">Tokens (or positions) the step trained on, for throughput.</param>
public readonly record struct StepResult(float Loss, long Tokens);

/// <summary>The loop's report after every step.</summary>
/// <param name="Position">The step just taken.</param>
/// <param name="GlobalStep">1-based count of the run's steps, a resumed run's earlier ones included.</param>
/// <param name="TotalSteps">Steps the run plans (its budget in steps).</param>
/// <param name="Result">The step's loss and tokens.</param>
/// <param name="TokensPerSecond">Training throughput since the loop started (validation excluded).</param>
/// <param name="Validation">The validation metric when measured after this step, else null.</param>
/// <param name="Improved">Whether that validation is a new best (its weights are now the best weights).</param>
/// <param name="EndOfEpoch">Whether the step closed its epoch.</param>
/// <param name="EpochLoss">Mean training loss of the epoch's steps taken in this loop so far.</param>
/// <param name="EpochTime">Training time of the epoch in this loop so far (validation excluded).</param>
/// <param name="Remaining">Estimated time to the end of the run (the nearer of its step and time budgets).</param>
public sealed record TrainingReport(TrainingPosition Position, int GlobalStep, int TotalSteps, StepResult Result, double TokensPerSecond, double? Validation,
    bool Improved, bool EndOfEpoch, double EpochLoss, TimeSpan EpochTime, TimeSpan Remaining);

/// <summary>
/// The trainer's side of <see cref="TrainingLoop"/>: what a step, a validation and a checkpoint are for one kind of
/// model. SASRec, CALRec's stages (plain and meta-learning) and causal-LM pretraining each implement it; the loop owns
/// everything else.
/// </summary>
public interface ITrainingRun
{
    /// <summary>Prepares an epoch's batches; called before its first step, also for an epoch a resumed run enters midway.</summary>
    void StartEpoch(int epoch);

    /// <summary>Takes one optimizer step.</summary>
    /// <param name="position">The step's place in the run.</param>
    /// <param name="globalStep">0-based count of the run's steps before this one.</param>
    StepResult Step(TrainingPosition position, int globalStep);

    /// <summary>Measures the selection metric with the current weights.</summary>
    double Validate();

    /// <summary>
    /// Called after a validation that is a new best, before the loop captures the best weights: a run whose weights live
    /// elsewhere (another device) brings them back here.
    /// </summary>
    void Improved();

    /// <summary>Writes what a resumed run needs to continue from <paramref name="next"/> (called only when the plan checkpoints).</summary>
    /// <param name="next">The first step the resumed run takes.</param>
    /// <param name="elapsed">Training time used so far, earlier sessions included.</param>
    void Checkpoint(TrainingPosition next, TimeSpan elapsed);

    /// <summary>Receives the loop's report after every step.</summary>
    void Report(TrainingReport report);
}

/// <summary>How a <see cref="TrainingLoop"/> runs: its length, budgets, validation and checkpoint cadence.</summary>
public sealed record TrainingPlan
{
    /// <summary>Epochs of the run.</summary>
    public required int Epochs { get; init; }

    /// <summary>Optimizer steps per epoch.</summary>
    public required int StepsPerEpoch { get; init; }

    /// <summary>Most steps in all (0: every step of every epoch).</summary>
    public int MaxSteps { get; init; }

    /// <summary>Training time allowed, earlier sessions of a resumed run included (null: none).</summary>
    public TimeSpan? TimeBudget { get; init; }

    /// <summary>
    /// How the time budget ends a run: false (the default) after the first step that reaches it, which is validated;
    /// true only between epochs, before an epoch that would end past it judged by the previous epoch's duration (the
    /// first epoch always runs).
    /// </summary>
    public bool BudgetInWholeEpochs { get; init; }

    /// <summary>
    /// Validate after every this many steps of an epoch (0: only at epoch ends). A validation due within half an
    /// interval of the epoch's end is left to the epoch's own. The last step of every epoch and of the run validates.
    /// </summary>
    public int ValidateEvery { get; init; }

    /// <summary>Whether the run validates at all (a pretraining run without validation data does not).</summary>
    public bool Validates { get; init; } = true;

    /// <summary>Whether the run writes checkpoints (after each validation, on the cadences below, and on cancellation).</summary>
    public bool Checkpoints { get; init; }

    /// <summary>Also checkpoint after every this many steps (0: not by steps).</summary>
    public int CheckpointEverySteps { get; init; }

    /// <summary>Also checkpoint when this much time has passed since the last checkpoint (null: not by time).</summary>
    public TimeSpan? CheckpointEvery { get; init; }

    /// <summary>The steps the run plans: every epoch's, capped by <see cref="MaxSteps"/>.</summary>
    public int TotalSteps => MaxSteps > 0 ? Math.Min(MaxSteps, Epochs * StepsPerEpoch) : Epochs * StepsPerEpoch;
}

/// <summary>How a <see cref="TrainingLoop"/> run ended.</summary>
/// <param name="Next">Where a continuation would start.</param>
/// <param name="StepsTaken">Steps taken in this loop (a resumed run's earlier ones excluded).</param>
/// <param name="Elapsed">Training time used, earlier sessions included.</param>
/// <param name="StoppedEarly">Whether early stopping ended the run.</param>
/// <param name="OutOfTime">Whether the time budget ended the run.</param>
public sealed record TrainingOutcome(TrainingPosition Next, int StepsTaken, TimeSpan Elapsed, bool StoppedEarly, bool OutOfTime);

/// <summary>
/// The one training loop of every trainer (SASRec, CALRec's stages, causal-LM pretraining): epochs of steps, step and time
/// budgets, validation cadence, model selection with early stopping and best weights, progress with throughput and time
/// left, checkpoints (after validations, every N steps or minutes, and on cancellation) and resuming from any step.
/// Cancellation is seen between steps: the loop checkpoints where it stands (when the plan checkpoints) and throws
/// <see cref="OperationCanceledException"/>, so a resumed run repeats nothing and loses nothing.
/// </summary>
public sealed class TrainingLoop
{
    private readonly TrainingPlan _plan;
    private readonly EarlyStopping _selection;
    private readonly WeightsSnapshot? _best;
    private readonly TimeProvider _time;

    /// <summary>Creates the loop of one run.</summary>
    /// <param name="plan">Length, budgets and cadences.</param>
    /// <param name="selection">Model selection on the validation metric (its state may come from a checkpoint or an earlier stage).</param>
    /// <param name="best">The best weights, captured at every new best validation (null: the run keeps its last weights).</param>
    /// <param name="time">The clock of budgets, throughput and time left (null: the system's).</param>
    public TrainingLoop(TrainingPlan plan, EarlyStopping selection, WeightsSnapshot? best = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(selection);
        ArgumentOutOfRangeException.ThrowIfNegative(plan.Epochs);
        ArgumentOutOfRangeException.ThrowIfLessThan(plan.StepsPerEpoch, 1);
        _plan = plan;
        _selection = selection;
        _best = best;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>
    /// Runs from <paramref name="start"/> until the plan's steps are done, the time budget or early stopping ends it, or
    /// <paramref name="cancellation"/> fires (then it throws after checkpointing).
    /// </summary>
    /// <param name="run">The trainer's steps, validation, checkpoints and progress.</param>
    /// <param name="start">The first step (a resumed run's checkpointed position; default: the beginning).</param>
    /// <param name="elapsedBefore">Training time a resumed run used before (it counts against the time budget).</param>
    /// <param name="cancellation">Stops the run between steps.</param>
    public TrainingOutcome Run(ITrainingRun run, TrainingPosition start = default, TimeSpan elapsedBefore = default, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        TrainingPlan plan = _plan;
        int perEpoch = plan.StepsPerEpoch, total = plan.TotalSteps;
        long started = _time.GetTimestamp(), lastCheckpoint = started;
        TimeSpan training = TimeSpan.Zero;
        TimeSpan Elapsed() => elapsedBefore + _time.GetElapsedTime(started);
        long tokens = 0;
        int taken = 0;
        TimeSpan lastEpoch = TimeSpan.Zero;
        var position = start;
        bool stoppedEarly = false, outOfTime = false;

        void Checkpoint(TrainingPosition next)
        {
            run.Checkpoint(next, Elapsed());
            lastCheckpoint = _time.GetTimestamp();
        }

        while (position.Epoch < plan.Epochs && (position.Epoch * perEpoch) + position.Step < total && !stoppedEarly && !outOfTime)
        {
            if (plan.BudgetInWholeEpochs && position.Step == 0 && taken > 0 && plan.TimeBudget is { } whole && Elapsed() + lastEpoch > whole)
            {
                outOfTime = true;
                break;
            }

            long epochStarted = _time.GetTimestamp();
            TimeSpan epochTraining = TimeSpan.Zero;
            double lossSum = 0;
            int epochSteps = 0, epoch = position.Epoch, firstStep = position.Step;
            for (int step = firstStep; step < perEpoch; step++)
            {
                var here = new TrainingPosition(epoch, step);
                int global = (here.Epoch * perEpoch) + step;
                if (cancellation.IsCancellationRequested)
                {
                    if (plan.Checkpoints)
                    {
                        Checkpoint(here);
                    }

                    cancellation.ThrowIfCancellationRequested();
                }

                if (step == firstStep)
                {
                    // After the cancellation check: a checkpoint at an epoch's first step is taken before its batches are drawn.
                    run.StartEpoch(epoch);
                }

                long stepStarted = _time.GetTimestamp();
                StepResult result = run.Step(here, global);
                TimeSpan stepTime = _time.GetElapsedTime(stepStarted);
                epochTraining += stepTime;
                training += stepTime;
                tokens += result.Tokens;
                lossSum += result.Loss;
                epochSteps++;
                taken++;

                bool endOfEpoch = step == perEpoch - 1;
                bool lastOfRun = global + 1 >= total;
                bool budgetReached = !plan.BudgetInWholeEpochs && plan.TimeBudget is { } budget && Elapsed() >= budget;
                bool periodic = plan.ValidateEvery > 0 && (step + 1) % plan.ValidateEvery == 0 && perEpoch - step - 1 >= plan.ValidateEvery / 2;
                var next = endOfEpoch ? new TrainingPosition(here.Epoch + 1, 0) : here with { Step = step + 1 };
                double? validation = null;
                bool improved = false;
                if (plan.Validates && (periodic || endOfEpoch || lastOfRun || budgetReached))
                {
                    validation = run.Validate();
                    improved = _selection.Offer(validation.Value);
                    if (improved)
                    {
                        run.Improved();
                        _best?.Capture();
                    }

                    stoppedEarly = !improved && _selection.ShouldStop;
                }

                outOfTime = budgetReached;
                double perStep = training.TotalSeconds / taken;
                double left = (total - global - 1) * perStep;
                if (plan.TimeBudget is { } limit)
                {
                    // A time budget ends the run first when it is the nearer end.
                    left = Math.Max(0, Math.Min(left, (limit - Elapsed()).TotalSeconds));
                }

                // The report goes out before the checkpoint, so that what the run records from it is in the checkpoint.
                run.Report(new TrainingReport(here, global + 1, total, result, tokens / Math.Max(1e-9, training.TotalSeconds), validation, improved,
                    endOfEpoch, lossSum / epochSteps, epochTraining, TimeSpan.FromSeconds(left)));
                if (plan.Checkpoints && (validation is not null
                    || (plan.CheckpointEverySteps > 0 && (global + 1) % plan.CheckpointEverySteps == 0)
                    || (plan.CheckpointEvery is { } every && _time.GetElapsedTime(lastCheckpoint) >= every)))
                {
                    Checkpoint(next);
                }

                position = next;
                if (stoppedEarly || outOfTime || lastOfRun)
                {
                    break;
                }
            }

            lastEpoch = _time.GetElapsedTime(epochStarted);
        }

        return new TrainingOutcome(position, taken, Elapsed(), stoppedEarly, outOfTime);
    }
}

/// <summary>An <see cref="ITrainingRun"/> made of functions, for a trainer whose run state lives in local variables.</summary>
public sealed class TrainingRun : ITrainingRun
{
    /// <summary>Takes one optimizer step (see <see cref="ITrainingRun.Step"/>).</summary>
    public required Func<TrainingPosition, int, StepResult> OnStep { get; init; }

    /// <summary>Measures the selection metric (null: a run whose plan does not validate).</summary>
    public Func<double>? OnValidate { get; init; }

    /// <summary>Prepares an epoch (null: nothing to prepare).</summary>
    public Action<int>? OnStartEpoch { get; init; }

    /// <summary>Runs after a new best validation, before the best weights are captured (null: nothing to do).</summary>
    public Action? OnImproved { get; init; }

    /// <summary>Writes a checkpoint (null: a run whose plan does not checkpoint).</summary>
    public Action<TrainingPosition, TimeSpan>? OnCheckpoint { get; init; }

    /// <summary>Receives every step's report (null: none wanted).</summary>
    public Action<TrainingReport>? OnReport { get; init; }

    void ITrainingRun.StartEpoch(int epoch) => OnStartEpoch?.Invoke(epoch);

    StepResult ITrainingRun.Step(TrainingPosition position, int globalStep) => OnStep(position, globalStep);

    double ITrainingRun.Validate() => (OnValidate ?? throw new InvalidOperationException("The plan validates but the run has no validation."))();

    void ITrainingRun.Improved() => OnImproved?.Invoke();

    void ITrainingRun.Checkpoint(TrainingPosition next, TimeSpan elapsed) =>
        (OnCheckpoint ?? throw new InvalidOperationException("The plan checkpoints but the run has no checkpoint writer."))(next, elapsed);

    void ITrainingRun.Report(TrainingReport report) => OnReport?.Invoke(report);
}
