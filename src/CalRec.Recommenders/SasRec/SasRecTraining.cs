using CalRec.Data.Splits;
using CalRec.Models.Training;
using CalRec.Recommenders.Evaluation;
using CalRec.Tensors;
using CalRec.Tensors.Autograd;
using CalRec.Tensors.Memory;
using CalRec.Tensors.Optim;

namespace CalRec.Recommenders.SasRec;

/// <summary>The training loss of SASRec.</summary>
public enum SasRecLoss
{
    /// <summary>Softmax cross-entropy over the whole catalogue at every position (the stronger variant).</summary>
    [OptionValue("ce")]
    CrossEntropy,

    /// <summary>
    /// Binary cross-entropy of the next item against sampled negatives (the original paper's loss): for each position,
    /// log σ(s⁺) + Σ log(1 − σ(s⁻)) over <see cref="SasRecTrainer.Options.NegativeSamples"/> items the user never interacted with.
    /// </summary>
    [OptionValue("bce")]
    BinaryCrossEntropy,
}

/// <summary>How SASRec groups users into training batches.</summary>
public enum SasRecBatching
{
    /// <summary>
    /// Every epoch, the users in a fresh random order, cut into batches (as the public implementation samples random
    /// users): each batch mixes short and long histories and pads to its longest one.
    /// </summary>
    [OptionValue("random")]
    RandomUsers,

    /// <summary>
    /// Users sorted by history length and cut into fixed batches whose order is shuffled every epoch: each batch pads
    /// only to its own longest history (less padding, faster epochs), but always holds the same users.
    /// </summary>
    [OptionValue("length")]
    LengthBuckets,
}

/// <summary>Progress after one SASRec epoch.</summary>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="Loss">Mean training loss of the epoch.</param>
/// <param name="ValidationNdcg10">Validation NDCG@10 after the epoch.</param>
/// <param name="Seconds">Training seconds of the epoch (validation excluded).</param>
/// <param name="Remaining">Estimated time left: the rest of the epochs, or of the time budget when that ends first (early stopping may end sooner).</param>
public sealed record SasRecEpochReport(int Epoch, double Loss, double ValidationNdcg10, double Seconds, TimeSpan Remaining);

/// <summary>A fitted SASRec: scores every item from the last <see cref="SasRecTrainer.Options.MaxLength"/> items of a history.</summary>
public sealed class SasRecScorer : IRecommenderScorer
{
    private const int ChunkUsers = 512;

    internal SasRecScorer(SasRecNetwork model) => Model = model;

    internal SasRecNetwork Model { get; }

    /// <summary>The epoch whose weights the scorer has (0: none validated).</summary>
    internal int BestEpoch { get; set; }

    /// <summary>Its validation NDCG@10, or null.</summary>
    internal double? BestValidationNdcg10 { get; set; }

    /// <summary>Training time spent before a resume (from the checkpoint; zero for a run that did not resume).</summary>
    internal TimeSpan EarlierTime { get; set; }

    /// <summary>Epochs completed (a resumed run's earlier ones included).</summary>
    internal int Epochs { get; set; }

    /// <inheritdoc />
    public int ItemCount => Model.ItemCount;

    /// <inheritdoc />
    public void Score(IReadOnlyList<int[]> histories, Span<float> scores)
    {
        Model.eval();
        int n = ItemCount;
        for (int start = 0; start < histories.Count; start += ChunkUsers)
        {
            int b = Math.Min(ChunkUsers, histories.Count - start);
            int t = Math.Max(1, Math.Min(Model.MaxLength, Enumerable.Range(start, b).Max(i => histories[i].Length)));
            int[] rows = new int[b * t];
            for (int i = 0; i < b; i++)
            {
                SasRecTraining.FillLeftPadded(histories[start + i], rows.AsSpan(i * t, t));
            }

            using TensorScope scope = TensorScope.Begin();
            using Tape.NoGradScope noGrad = Tape.no_grad();
            ManagedTensor hidden = Model.Forward(rows, b, t);
            int[] last = Enumerable.Range(0, b).Select(i => (i * t) + t - 1).ToArray();
            Model.Scores(Functional.gather_rows(hidden.reshape(b * t, -1), last)).Data.CopyTo(scores.Slice(start * n, b * n));
        }
    }
}

/// <summary>Trains SASRec on the training part of a leave-one-out split, every position at once, with full-softmax cross-entropy.</summary>
public static class SasRecTraining
{
    /// <summary>
    /// Trains with early stopping on validation NDCG@10 and returns the scorer with the best epoch's weights.
    /// </summary>
    /// <param name="split">The data: trains on its training part, validates on its validation cases.</param>
    /// <param name="options">Hyper-parameters, checkpointing and resuming.</param>
    /// <param name="progress">Receives every epoch's report.</param>
    /// <param name="cancellation">Stops after the step in progress (a partial epoch is discarded).</param>
    /// <param name="engine">Runs the training steps (null: our engine).</param>
    public static SasRecScorer Fit(LeaveOneOutSplit split, SasRecTrainer.Options options, Action<SasRecEpochReport>? progress = null, CancellationToken cancellation = default,
        SasRecEngineFactory? engine = null) => Fit(split, options, progress, cancellation, engine, steps: null);

    /// <summary>As the public overload, with every step's report (a test hook: cancelling in the middle of an epoch).</summary>
    internal static SasRecScorer Fit(LeaveOneOutSplit split, SasRecTrainer.Options options, Action<SasRecEpochReport>? progress, CancellationToken cancellation,
        SasRecEngineFactory? engine, Action<TrainingReport>? steps)
    {
        if (options.AccumulationSteps < 1 || options.AccumulationSteps > options.BatchSize)
        {
            throw new ArgumentException($"AccumulationSteps must be between 1 and the batch size ({options.BatchSize}); got {options.AccumulationSteps}.");
        }

        int n = split.Data.ItemCount, maxT = options.MaxLength;
        var model = new SasRecNetwork(n, options.Hidden, options.Blocks, options.Heads, maxT, options.Dropout, options.Seed);
        if (options.InitialItemEmbeddings is { } init)
        {
            if (init.Length != n * options.Hidden)
            {
                throw new ArgumentException($"Initial item embeddings have {init.Length} values; {n} items x {options.Hidden} dimensions need {n * options.Hidden}.");
            }

            double variance = init.Select(x => (double)x * x).Average() - Math.Pow(init.Average(x => (double)x), 2);
            float scale = (float)(model.ItemInitStd / Math.Sqrt(Math.Max(variance, 1e-12)));
            Span<float> table = model.item_emb.weight.Data[options.Hidden..];
            System.Numerics.Tensors.TensorPrimitives.Multiply(init, scale, table);
        }

        var scorer = new SasRecScorer(model);
        var opt = new AdamWOptimizer([new ParameterGroup(model.parameters().ToList(), 0f)], options.LearningRate, 0.9f, 0.98f);
        var order = new SeededRandom(options.Seed + 1);
        var negatives = new SeededRandom(options.Seed + 2);
        int[] users = Enumerable.Range(0, split.Train.Count).Where(u => split.Train[u].Length >= 2).ToArray();
        if (users.Length == 0)
        {
            throw new ArgumentException($"Dataset '{split.Data.Name}' has no user with two or more training interactions: nothing to train SASRec on.");
        }

        var batches = new SasRecBatches(users, u => Math.Min(maxT, split.Train[u].Length - 1), options.BatchSize, options.Batching);
        var selection = new EarlyStopping(higherIsBetter: true, options.Patience, options.MinEpochs);
        var best = new WeightsSnapshot(model.named_parameters());
        var start = default(TrainingPosition);
        int bestEpoch = 0;
        TimeSpan usedBefore = TimeSpan.Zero;
        if (options.Resume)
        {
            SasRecCheckpoint saved = SasRecCheckpoint.Read(options.CheckpointDirectory ?? throw new ArgumentException("Resume needs a CheckpointDirectory."));
            saved.Restore(model, opt, order, negatives, batches, selection, best);
            (start, bestEpoch, usedBefore) = (saved.Position, saved.BestEpoch, saved.Elapsed);
        }

        using ISasRecEngine? stepper = engine?.Invoke(model.named_parameters(),
            new SasRecEngineSettings(n, options.Hidden, options.Blocks, options.Heads, maxT, options.Dropout, 0.9f, 0.98f, options.Loss, options.Seed + (ulong)start.Epoch + 1));
        if (options.Resume)
        {
            // The checkpoint's moments: the engine continues with them.
            stepper?.LoadOptimizerStateFrom(model.named_parameters(), opt);
        }

        var run = new Run(split, options, scorer, opt, order, negatives, batches, stepper, start, progress, selection, best) { BestEpoch = bestEpoch, Steps = steps };
        var loop = new TrainingLoop(new TrainingPlan
        {
            Epochs = options.MaxEpochs,
            StepsPerEpoch = batches.Count,
            TimeBudget = options.MaxMinutes > 0 ? TimeSpan.FromMinutes(options.MaxMinutes) : null,
            BudgetInWholeEpochs = true,
            Checkpoints = options.CheckpointDirectory is not null,
        }, selection, best);
        try
        {
            loop.Run(run, start, usedBefore, cancellation);
        }
        finally
        {
            scorer.Epochs = run.EpochsDone;
        }

        best.Restore();
        model.eval();
        scorer.BestEpoch = run.BestEpoch;
        scorer.BestValidationNdcg10 = selection.Best;
        scorer.EarlierTime = usedBefore;
        return scorer;
    }

    /// <summary>
    /// Accumulates into <paramref name="model"/>'s gradients the whole batch's loss gradient from its micro-batches (each
    /// one's mean loss times its share) and returns the whole batch's loss. Every position with a next item is a
    /// training example; the item softmax is computed for those positions only (short histories leave most of the window
    /// as padding).
    /// </summary>
    internal static float Backward(SasRecNetwork model, IReadOnlyList<SasRecBatch> microBatches)
    {
        double total = 0;
        foreach (SasRecBatch part in microBatches)
        {
            using TensorScope scope = TensorScope.Begin();
            ManagedTensor hidden = Functional.gather_rows(model.Forward(part.Rows, part.Batch, part.Length).reshape(part.Batch * part.Length, -1), part.Positions);
            ManagedTensor loss = part.Negatives is null
                ? Functional.cross_entropy(model.Scores(hidden), part.Targets)
                : BinaryLoss(model, hidden, part.Targets, part.Negatives);
            total += loss.item() * part.Share;
            (microBatches.Count == 1 ? loss : loss.mul(part.Share)).backward();
        }

        return (float)total;
    }

    /// <summary>
    /// Mean binary cross-entropy of the positives against their negatives. Each score s becomes the logits row [0, s] of
    /// a two-class softmax, whose cross-entropy is softplus(−s) for the positive class and softplus(s) for the negative:
    /// exactly −log σ(s) and −log(1 − σ(s)).
    /// </summary>
    private static ManagedTensor BinaryLoss(SasRecNetwork model, ManagedTensor hidden, int[] targets, int[][] negatives)
    {
        int p = targets.Length, d = hidden.shape[1];
        ManagedTensor h = hidden.reshape(p, 1, d);
        ManagedTensor RowScores(int[] items) => h.matmul(model.item_emb.forward(items, p, 1), transB: true).reshape(p, 1);
        ManagedTensor zeros = ManagedTensor.zeros(p, 1);
        ManagedTensor loss = Functional.cross_entropy(Functional.concat([zeros, RowScores(targets.Select(i => i + 1).ToArray())], 1), Enumerable.Repeat(1, p).ToArray());
        foreach (int[] neg in negatives)
        {
            loss = loss.add(Functional.cross_entropy(Functional.concat([zeros, RowScores(neg)], 1), new int[p]));
        }

        return loss;
    }

    // Per training position, items (as table rows, item + 1) outside the user's training history, in position order.
    private static int[][] SampleNegatives(LeaveOneOutSplit split, int[] users, int start, int b, int t, int count, SeededRandom g, int itemCount)
    {
        var result = Enumerable.Range(0, count).Select(_ => new List<int>()).ToArray();
        for (int i = 0; i < b; i++)
        {
            int[] s = split.Train[users[start + i]];
            var seen = new HashSet<int>(s);
            int len = Math.Min(t, s.Length - 1);
            for (int j = 0; j < len; j++)
            {
                foreach (List<int> list in result)
                {
                    int item;
                    do
                    {
                        item = g.NextInt(itemCount);
                    }
                    while (seen.Contains(item) && seen.Count < itemCount);
                    list.Add(item + 1);
                }
            }
        }

        return result.Select(l => l.ToArray()).ToArray();
    }

    internal static void FillLeftPadded(ReadOnlySpan<int> items, Span<int> row)
    {
        int t = row.Length, len = Math.Min(t, items.Length);
        row[..(t - len)].Clear();
        for (int j = 0; j < len; j++)
        {
            row[t - len + j] = items[items.Length - len + j] + 1;
        }
    }

    /// <summary>
    /// SASRec's side of the training loop: every position of a batch of users trained at once (on our engine or through
    /// an <see cref="ISasRecEngine"/>), validation NDCG@10 after each epoch, and a checkpoint of the whole state.
    /// </summary>
    private sealed class Run(LeaveOneOutSplit split, SasRecTrainer.Options options, SasRecScorer scorer, AdamWOptimizer opt, SeededRandom order, SeededRandom negatives,
        SasRecBatches batches, ISasRecEngine? stepper, TrainingPosition resumedAt, Action<SasRecEpochReport>? progress, EarlyStopping selection, WeightsSnapshot best) : ITrainingRun
    {
        private readonly SasRecNetwork _model = scorer.Model;

        /// <summary>The 1-based epoch of the best weights (0: none validated).</summary>
        public int BestEpoch { get; set; }

        /// <summary>Receives every step's report (null: none).</summary>
        public Action<TrainingReport>? Steps { get; init; }

        /// <summary>Epochs completed, a resumed run's earlier ones included.</summary>
        public int EpochsDone { get; private set; } = resumedAt.Epoch;

        public void StartEpoch(int epoch)
        {
            // A run resumed midway through an epoch has that epoch's arrangement from its checkpoint.
            if (epoch != resumedAt.Epoch || resumedAt.Step == 0)
            {
                batches.Next(order);
            }

            _model.train();
        }

        public StepResult Step(TrainingPosition position, int globalStep)
        {
            int n = _model.ItemCount;
            (int start, int b) = batches[position.Step];
            int t = Math.Min(options.MaxLength, Enumerable.Range(start, b).Max(i => split.Train[batches.Users[i]].Length - 1));
            int[] rows = new int[b * t];
            var positions = new List<int>(b * 16);
            var targets = new List<int>(b * 16);
            for (int i = 0; i < b; i++)
            {
                int[] s = split.Train[batches.Users[start + i]];
                FillLeftPadded(s.AsSpan(0, s.Length - 1), rows.AsSpan(i * t, t));
                int len = Math.Min(t, s.Length - 1);
                for (int j = 0; j < len; j++)
                {
                    positions.Add((i * t) + t - len + j);
                    targets.Add(s[s.Length - len + j]);
                }
            }

            int[][]? sampled = options.Loss == SasRecLoss.CrossEntropy ? null : SampleNegatives(split, batches.Users, start, b, t, options.NegativeSamples, negatives, n);
            IReadOnlyList<SasRecBatch> micro = new SasRecBatch(rows, b, t, [.. positions], [.. targets], sampled).Split(options.AccumulationSteps);
            if (stepper is not null)
            {
                return new StepResult(stepper.Step(micro, options.LearningRate), positions.Count);
            }

            opt.zero_grad();
            float total = Backward(_model, micro);
            using (TensorScope.Begin())
            {
                opt.step();
            }

            return new StepResult(total, positions.Count);
        }

        public double Validate()
        {
            stepper?.CopyWeightsTo(_model.named_parameters());
            double ndcg = RecommendationEvaluator.Evaluate(scorer, split.Validation, new RecommendationEvaluatorOptions { Ks = [10], BootstrapSamples = 0 })["ndcg@10"].Value;
            _model.train();
            return ndcg;
        }

        // Validation reads the weights back already.
        public void Improved()
        {
        }

        public void Checkpoint(TrainingPosition next, TimeSpan elapsed)
        {
            stepper?.CopyWeightsTo(_model.named_parameters());
            stepper?.CopyOptimizerStateTo(_model.named_parameters(), opt);
            SasRecCheckpoint.Write(options.CheckpointDirectory!, options, next, BestEpoch, elapsed, _model, opt, order, negatives, batches, selection, best);
        }

        public void Report(TrainingReport report)
        {
            Steps?.Invoke(report);
            if (report.Improved)
            {
                BestEpoch = report.Position.Epoch + 1;
            }

            if (report.EndOfEpoch)
            {
                EpochsDone = report.Position.Epoch + 1;
                progress?.Invoke(new SasRecEpochReport(EpochsDone, report.EpochLoss, report.Validation ?? double.NaN, report.EpochTime.TotalSeconds, report.Remaining));
            }
        }
    }
}
