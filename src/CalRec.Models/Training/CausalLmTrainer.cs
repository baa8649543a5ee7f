using CalRec.Models.Decoder;
using CalRec.Tensors;
using CalRec.Tensors.Autograd;
using CalRec.Tensors.Memory;
using CalRec.Tensors.Optim;

namespace CalRec.Models.Training;

/// <summary>Settings of <see cref="CausalLmTrainer"/>.</summary>
public sealed record CausalLmTrainerOptions
{
    /// <summary>Windows per optimizer step.</summary>
    public int BatchSize { get; init; } = 16;

    /// <summary>Optimizer steps.</summary>
    public int Steps { get; init; } = 200;

    /// <summary>Peak learning rate.</summary>
    public float LearningRate { get; init; } = 3e-3f;

    /// <summary>Linear warmup steps.</summary>
    public int WarmupSteps { get; init; } = 20;

    /// <summary>Decoupled weight decay on matrices.</summary>
    public float WeightDecay { get; init; } = 0.01f;

    /// <summary>Global gradient-norm limit.</summary>
    public float ClipNorm { get; init; } = 1f;

    /// <summary>Validate every this many steps (0: only at the end).</summary>
    public int EvalEvery { get; init; } = 50;

    /// <summary>Seed for batch order.</summary>
    public ulong Seed { get; init; } = 1;
}

/// <summary>Progress of one optimizer step.</summary>
/// <param name="Step">1-based step.</param>
/// <param name="Loss">Training loss of the step.</param>
/// <param name="LearningRate">Learning rate used.</param>
/// <param name="TokensPerSecond">Training throughput so far.</param>
/// <param name="ValidationLoss">Validation loss when evaluated at this step, else null.</param>
public sealed record LmStepReport(int Step, float Loss, float LearningRate, double TokensPerSecond, float? ValidationLoss)
{
    /// <summary>exp(validation loss), or null.</summary>
    public double? ValidationPerplexity => ValidationLoss is float v ? Math.Exp(v) : null;
}

/// <summary>
/// Next-token training of a <see cref="DecoderLM"/> on packed windows with AdamW, warmup + cosine decay and gradient
/// clipping. Cancellation stops after the current step.
/// </summary>
public sealed class CausalLmTrainer(DecoderLM model, CausalLmTrainerOptions options)
{
    /// <summary>Mean loss over up to <paramref name="maxWindows"/> windows of <paramref name="data"/>, without gradients.</summary>
    public float Evaluate(PackedTokenDataset data, int maxWindows = 64)
    {
        int windows = Math.Min(maxWindows, data.WindowCount);
        if (windows == 0)
        {
            throw new InvalidOperationException($"Validation data has no complete window of {data.SequenceLength + 1} tokens.");
        }

        bool wasTraining = model.training;
        model.eval();
        double total = 0;
        int t = data.SequenceLength, b = Math.Min(options.BatchSize, windows), done = 0;
        int[] ids = new int[b * t], targets = new int[b * t];
        using (Tape.no_grad())
        {
            while (done < windows)
            {
                int rows = Math.Min(b, windows - done);
                for (int r = 0; r < rows; r++)
                {
                    data.Fill(done + r, r, ids, targets);
                }

                using TensorScope scope = TensorScope.Begin();
                total += model.Loss(ids[..(rows * t)], targets[..(rows * t)], rows, t).item() * rows;
                done += rows;
            }
        }

        model.train(wasTraining);
        return (float)(total / windows);
    }

    /// <summary>Trains for the configured steps, reporting each one.</summary>
    public IEnumerable<LmStepReport> Train(PackedTokenDataset train, PackedTokenDataset? validation, CancellationToken cancellation = default)
    {
        if (train.WindowCount == 0)
        {
            throw new InvalidOperationException($"Training data has no complete window of {train.SequenceLength + 1} tokens.");
        }

        var opt = new AdamW(AdamW.DecayGroups(model.parameters(), options.WeightDecay), options.LearningRate, 0.9f, 0.95f);
        var schedule = new LearningRateSchedule(options.LearningRate, options.WarmupSteps, options.Steps);
        var order = new Generator(options.Seed);
        int[] perm = Enumerable.Range(0, train.WindowCount).ToArray();
        order.Shuffle<int>(perm);
        int cursor = 0, t = train.SequenceLength, b = options.BatchSize;
        int[] ids = new int[b * t], targets = new int[b * t];
        var clock = System.Diagnostics.Stopwatch.StartNew();
        model.train();
        for (int step = 0; step < options.Steps && !cancellation.IsCancellationRequested; step++)
        {
            for (int r = 0; r < b; r++)
            {
                if (cursor == perm.Length)
                {
                    order.Shuffle<int>(perm);
                    cursor = 0;
                }

                train.Fill(perm[cursor++], r, ids, targets);
            }

            float loss;
            opt.LearningRate = schedule.At(step);
            using (TensorScope.Begin())
            {
                opt.zero_grad();
                Tensor l = model.Loss(ids, targets, b, t);
                l.backward();
                GradientClipping.clip_grad_norm_(model.parameters(), options.ClipNorm);
                opt.step();
                loss = l.item();
            }

            bool evalNow = validation is not null && ((options.EvalEvery > 0 && (step + 1) % options.EvalEvery == 0) || step + 1 == options.Steps);
            double tps = (double)(step + 1) * b * t / clock.Elapsed.TotalSeconds;
            yield return new LmStepReport(step + 1, loss, opt.LearningRate, tps, evalNow ? Evaluate(validation!) : null);
        }
    }
}
