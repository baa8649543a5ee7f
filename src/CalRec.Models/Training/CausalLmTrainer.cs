using System.Text.Json;
using System.Text.Json.Nodes;
using CalRec.Models.Checkpoints;
using CalRec.Models.Decoder;
using CalRec.Tensors;
using CalRec.Tensors.Autograd;
using CalRec.Tensors.Memory;
using CalRec.Tensors.Optim;
using CalRec.Text.Tokenization;

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

    /// <summary>Micro-batches per step: their gradients add up before the step (less memory per pass, the same step).</summary>
    public int AccumulationSteps { get; init; } = 1;

    /// <summary>Global gradient-norm limit.</summary>
    public float ClipNorm { get; init; } = 1f;

    /// <summary>Validate every this many steps (0: only at the end).</summary>
    public int EvalEvery { get; init; } = 50;

    /// <summary>Stop after this many validations without improvement (0: never stop early).</summary>
    public int Patience { get; init; }

    /// <summary>Seed for batch order.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>
    /// The settings a checkpoint written by <see cref="CausalLmTrainer.SaveCheckpoint"/> was trained with: build the trainer
    /// with them, load the weights from the same folder, and <see cref="CausalLmTrainer.RestoreCheckpoint"/> continues the run.
    /// </summary>
    public static CausalLmTrainerOptions FromCheckpoint(string directory)
    {
        string path = Path.Combine(directory, CausalLmTrainer.StateFile);
        try
        {
            JsonNode? options = JsonNode.Parse(File.ReadAllText(path))?["options"];
            return options?.Deserialize<CausalLmTrainerOptions>() ?? throw new InvalidDataException($"{path}: no \"options\" (written before checkpoints carried their settings).");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{path}: not valid JSON ({ex.Message}).", ex);
        }
    }
}

/// <summary>Progress of one optimizer step.</summary>
/// <param name="Step">1-based step.</param>
/// <param name="Loss">Training loss of the step.</param>
/// <param name="LearningRate">Learning rate used.</param>
/// <param name="TokensPerSecond">Training throughput of this run so far.</param>
/// <param name="ValidationLoss">Validation loss when evaluated at this step, else null.</param>
/// <param name="Remaining">Estimated time to the last step.</param>
public sealed record LmStepReport(int Step, float Loss, float LearningRate, double TokensPerSecond, float? ValidationLoss, TimeSpan Remaining)
{
    /// <summary>exp(validation loss), or null.</summary>
    public double? ValidationPerplexity => ValidationLoss is float v ? Math.Exp(v) : null;
}

/// <summary>
/// Next-token training of a decoder on packed windows with AdamW (β = 0.9, 0.95), warmup + cosine decay, gradient
/// clipping, periodic validation and optional early stopping, on either engine (<see cref="ICausalLmBackend"/>: ours, or
/// TorchSharp on any device). The whole training state (weights, optimizer moments, step, batch order and position,
/// dropout generator, early-stopping record) can be checkpointed and restored, and on our engine a restored run continues
/// exactly as the uninterrupted one would (same seed and thread count).
/// </summary>
public sealed class CausalLmTrainer
{
    internal const string StateFile = "trainer_state.json";
    private readonly ICausalLmBackend _backend;
    private readonly CausalLmTrainerOptions _options;
    private readonly LearningRateSchedule _schedule;
    private readonly SeededRandom _order;
    private readonly EarlyStopping _selection;
    private int[] _permutation = [];
    private int _cursor;

    /// <summary>Creates a trainer at step 0 on our engine.</summary>
    public CausalLmTrainer(DecoderLM model, CausalLmTrainerOptions options)
        : this(new ManagedCausalLmBackend(model, options.LearningRate, options.WeightDecay), options)
    {
    }

    /// <summary>Creates a trainer at step 0 on <paramref name="backend"/> (built with the options' learning rate and weight decay).</summary>
    public CausalLmTrainer(ICausalLmBackend backend, CausalLmTrainerOptions options)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(options);
        if (options.AccumulationSteps < 1 || options.AccumulationSteps > options.BatchSize)
        {
            throw new ArgumentException($"AccumulationSteps must be between 1 and the batch size ({options.BatchSize}); got {options.AccumulationSteps}.");
        }

        _backend = backend;
        _options = options;
        _schedule = new LearningRateSchedule(options.LearningRate, options.WarmupSteps, options.Steps);
        _order = new SeededRandom(options.Seed);
        _selection = new EarlyStopping(higherIsBetter: false, options.Patience);
    }

    /// <summary>Optimizer steps taken.</summary>
    public int Step { get; private set; }

    /// <summary>Best validation loss seen, or null.</summary>
    public float? BestValidationLoss => (float?)_selection.Best;

    /// <summary>Validations since the best one.</summary>
    public int EvaluationsWithoutImprovement => _selection.Stale;

    /// <summary>Whether early stopping has triggered.</summary>
    public bool StoppedEarly => _selection.ShouldStop;

    /// <summary>Mean loss over up to <paramref name="maxWindows"/> windows of <paramref name="data"/>, without gradients.</summary>
    public float Evaluate(PackedTokenDataset data, int maxWindows = 64)
    {
        int windows = Math.Min(maxWindows, data.WindowCount);
        if (windows == 0)
        {
            throw new InvalidOperationException($"Validation data has no complete window of {data.SequenceLength + 1} tokens.");
        }

        double total = 0;
        int t = data.SequenceLength, b = Math.Min(_options.BatchSize, windows), done = 0;
        int[] ids = new int[b * t], targets = new int[b * t];
        while (done < windows)
        {
            int rows = Math.Min(b, windows - done);
            for (int r = 0; r < rows; r++)
            {
                data.Fill(done + r, r, ids, targets);
            }

            // Full batches use the buffers as they are; only a final partial batch needs shorter copies.
            int[] batchIds = rows == b ? ids : ids[..(rows * t)], batchTargets = rows == b ? targets : targets[..(rows * t)];
            total += _backend.Loss(batchIds, batchTargets, rows, t) * rows;
            done += rows;
        }

        return (float)(total / windows);
    }

    /// <summary>Raised after every step (with its validation loss when one was measured), on the training thread.</summary>
    public event EventHandler<LmStepReport>? Progress;

    /// <summary>
    /// Trains from the current step up to the configured number of steps or until early stopping, through the one
    /// <see cref="TrainingLoop"/>, raising <see cref="Progress"/> after each step. Returns the last step's report (null
    /// when no step ran). Cancellation is seen between steps: the trainer checkpoints there (with
    /// <paramref name="checkpointing"/>) and throws <see cref="OperationCanceledException"/>.
    /// </summary>
    /// <param name="train">The training windows.</param>
    /// <param name="validation">Validation windows (null: no validation, no early stopping).</param>
    /// <param name="cancellation">Stops training between two steps.</param>
    /// <param name="checkpointing">When and how to checkpoint while training (null: never).</param>
    public LmStepReport? Train(PackedTokenDataset train, PackedTokenDataset? validation, CancellationToken cancellation = default, CausalLmCheckpointing? checkpointing = null)
    {
        if (train.WindowCount == 0)
        {
            throw new InvalidOperationException($"Training data has no complete window of {train.SequenceLength + 1} tokens.");
        }

        if (_permutation.Length == 0)
        {
            _permutation = Enumerable.Range(0, train.WindowCount).ToArray();
            _order.Shuffle<int>(_permutation);
        }
        else if (_permutation.Length != train.WindowCount)
        {
            throw new InvalidOperationException($"The checkpoint was made with {_permutation.Length} training windows, the data now has {train.WindowCount}.");
        }

        if (Step >= _options.Steps || StoppedEarly)
        {
            return null;
        }

        // Pretraining is one epoch of Steps steps over the windows, cycled in a reshuffled order as often as needed.
        var loop = new TrainingLoop(new TrainingPlan
        {
            Epochs = 1,
            StepsPerEpoch = _options.Steps,
            ValidateEvery = _options.EvalEvery,
            Validates = validation is not null,
            Checkpoints = checkpointing is not null,
            CheckpointEverySteps = checkpointing?.EverySteps ?? 0,
            CheckpointEvery = checkpointing?.Every,
        }, _selection);
        var run = new Run(this, train, validation, checkpointing);
        loop.Run(run, new TrainingPosition(0, Step), cancellation: cancellation);
        return run.Last;
    }

    /// <summary>
    /// Writes a resumable checkpoint folder atomically: the model in Hugging Face layout (plus tokenizer), the optimizer
    /// moments (<c>optimizer.safetensors</c>) and the trainer state (<c>trainer_state.json</c>).
    /// </summary>
    /// <param name="directory">The checkpoint folder (replaced atomically).</param>
    /// <param name="tokenizer">The tokenizer saved with the model, or null.</param>
    /// <param name="extra">The caller's own state, returned by <see cref="RestoreCheckpoint"/>.</param>
    /// <param name="writeMore">Writes the caller's own files into the folder being staged.</param>
    public void SaveCheckpoint(string directory, ByteLevelBpeTokenizer? tokenizer, JsonObject? extra = null, Action<string>? writeMore = null) => AtomicDirectory.Write(directory, tmp =>
    {
        writeMore?.Invoke(tmp);
        _backend.WriteModel(tmp, tokenizer);
        _backend.WriteOptimizer(tmp);
        var state = new JsonObject
        {
            ["format_version"] = 1,
            ["options"] = JsonSerializer.SerializeToNode(_options),
            ["backend"] = _backend.Name,
            ["step"] = Step,
            ["optimizer_step"] = _backend.OptimizerSteps,
            ["cursor"] = _cursor,
            ["permutation"] = new JsonArray(_permutation.Select(i => (JsonNode)i).ToArray()),
            ["order_rng"] = TrainingCheckpoint.RandomState(_order),
            ["dropout_rng"] = _backend.DropoutGenerator is { } dropout ? TrainingCheckpoint.RandomState(dropout) : null,
            ["best_validation_loss"] = BestValidationLoss,
            ["evaluations_without_improvement"] = EvaluationsWithoutImprovement,
            ["extra"] = extra?.DeepClone(),
        };
        File.WriteAllText(Path.Combine(tmp, StateFile), state.ToJsonString(new JsonSerializerOptions { WriteIndented = false }));
    });

    /// <summary>
    /// Restores the trainer state and optimizer moments from a checkpoint written by <see cref="SaveCheckpoint"/>
    /// (the model weights are restored separately, by loading the folder with <see cref="HuggingFaceCheckpoint.Load"/>).
    /// Returns the checkpoint's extra object.
    /// </summary>
    public JsonObject? RestoreCheckpoint(string directory)
    {
        string statePath = Path.Combine(directory, StateFile);
        JsonObject state;
        try
        {
            state = JsonNode.Parse(File.ReadAllText(statePath)) as JsonObject ?? throw new InvalidDataException($"{statePath}: not a JSON object.");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{statePath}: not valid JSON ({ex.Message}).", ex);
        }

        if (state["format_version"]?.GetValue<int>() is not 1)
        {
            throw new InvalidDataException($"{statePath}: unsupported format_version {state["format_version"]} (this build reads version 1).");
        }

        string backend = state["backend"]?.GetValue<string>() ?? "managed";
        if (backend != _backend.Name)
        {
            throw new InvalidDataException($"{statePath}: written by the {backend} backend; resume it with that backend (its optimizer moments are in that engine's format).");
        }

        _backend.RestoreOptimizer(directory, state["optimizer_step"]!.GetValue<long>());
        Step = state["step"]!.GetValue<int>();
        _cursor = state["cursor"]!.GetValue<int>();
        _permutation = state["permutation"]!.AsArray().Select(n => n!.GetValue<int>()).ToArray();
        TrainingCheckpoint.RestoreRandom(_order, state["order_rng"], statePath);
        if (_backend.DropoutGenerator is { } dropoutGenerator)
        {
            TrainingCheckpoint.RestoreRandom(dropoutGenerator, state["dropout_rng"], statePath);
        }
        _selection.Restore(state["best_validation_loss"]?.GetValue<float>(), state["evaluations_without_improvement"]!.GetValue<int>(), validations: 0);
        return state["extra"] as JsonObject;
    }

    /// <summary>Next-token training's side of the training loop: packed windows in a cycled, reshuffled order.</summary>
    private sealed class Run(CausalLmTrainer trainer, PackedTokenDataset train, PackedTokenDataset? validation, CausalLmCheckpointing? checkpointing) : ITrainingRun
    {
        private readonly int[] _ids = new int[trainer._options.BatchSize * train.SequenceLength];
        private readonly int[] _targets = new int[trainer._options.BatchSize * train.SequenceLength];
        private float _learningRate;

        public LmStepReport? Last { get; private set; }

        public void StartEpoch(int epoch)
        {
        }

        public StepResult Step(TrainingPosition position, int globalStep)
        {
            int b = trainer._options.BatchSize, t = train.SequenceLength;
            for (int r = 0; r < b; r++)
            {
                if (trainer._cursor == trainer._permutation.Length)
                {
                    trainer._order.Shuffle<int>(trainer._permutation);
                    trainer._cursor = 0;
                }

                train.Fill(trainer._permutation[trainer._cursor++], r, _ids, _targets);
            }

            _learningRate = trainer._schedule.At(globalStep);
            var batch = new TokenBatch(_ids, _targets, b, t);
            float loss = trainer._backend.TrainStep(batch.Split(trainer._options.AccumulationSteps), _learningRate, trainer._options.ClipNorm);
            trainer.Step = globalStep + 1;
            return new StepResult(loss, (long)b * t);
        }

        public double Validate() => trainer.Evaluate(validation!);

        public void Improved()
        {
        }

        public void Checkpoint(TrainingPosition next, TimeSpan elapsed) => checkpointing!.Write(trainer);

        public void Report(TrainingReport report)
        {
            Last = new LmStepReport(report.GlobalStep, report.Result.Loss, _learningRate, report.TokensPerSecond, (float?)report.Validation, report.Remaining);
            trainer.Progress?.Invoke(trainer, Last);
        }
    }
}

/// <summary>When and how <see cref="CausalLmTrainer.Train"/> checkpoints: after each validation, on the cadences below, and when cancelled.</summary>
/// <param name="Write">Writes the checkpoint (e.g. <see cref="CausalLmTrainer.SaveCheckpoint"/> with the caller's tokenizer and state).</param>
public sealed record CausalLmCheckpointing(Action<CausalLmTrainer> Write)
{
    /// <summary>Also checkpoint after every this many steps (0: not by steps).</summary>
    public int EverySteps { get; init; }

    /// <summary>Also checkpoint when this much time has passed since the last checkpoint (null: not by time).</summary>
    public TimeSpan? Every { get; init; }
}
