using CalRec.Models.Training;

namespace CalRec.Recommenders.CalRec;

/// <summary>Settings of pretraining a decoder LM on a <see cref="PretrainingCorpus"/> (<c>calrec pretrain</c>).</summary>
public sealed record PretrainingOptions
{
    /// <summary>Optimizer steps.</summary>
    [TrainerOption("steps", "Optimizer steps.")]
    public int Steps { get; init; } = 1000;

    /// <summary>Packed sequences per step.</summary>
    [TrainerOption("batch-size", "Sequences per step.")]
    public int BatchSize { get; init; } = 16;

    /// <summary>Micro-batches per step, whose gradients add up before the step (less memory per pass, the same step).</summary>
    [TrainerOption("accumulation-steps", "Split each batch into this many micro-batches whose gradients add up before the step (less memory per pass).")]
    public int AccumulationSteps { get; init; } = 1;

    /// <summary>Tokens per packed sequence.</summary>
    [TrainerOption("seq-len", "Tokens per sequence.")]
    public int SequenceLength { get; init; } = 128;

    /// <summary>Peak learning rate (warmup, then cosine decay).</summary>
    [TrainerOption("lr", "Peak learning rate.")]
    public float LearningRate { get; init; } = 2e-3f;

    /// <summary>Linear warmup steps.</summary>
    [TrainerOption("warmup", "Warmup steps.")]
    public int WarmupSteps { get; init; } = 50;

    /// <summary>Validate every this many steps.</summary>
    [TrainerOption("eval-every", "Validate every N steps.")]
    public int EvalEvery { get; init; } = 100;

    /// <summary>Stop after this many validations without improvement (0: never).</summary>
    [TrainerOption("patience", "Stop after N validations without improvement (0: never).")]
    public int Patience { get; init; }

    /// <summary>Write a resumable checkpoint every this many steps.</summary>
    [TrainerOption("checkpoint-every", "Write a resumable checkpoint every N steps.")]
    public int CheckpointEvery { get; init; } = 100;

    /// <summary>Items per serialized history window of the corpus.</summary>
    [TrainerOption("max-history", "Most recent items per serialized history window.")]
    public int MaxHistory { get; init; } = 20;

    /// <summary>Vocabulary of a newly trained tokenizer (0: the model preset's).</summary>
    [TrainerOption("vocab-size", "Vocabulary size of a newly trained tokenizer (0: the preset's).")]
    public int VocabularySize { get; init; }

    /// <summary>Seed of weights, the validation split and batch order.</summary>
    [TrainerOption("seed", "Seed for weights, data split and batch order.")]
    public ulong Seed { get; init; } = 1;

    /// <summary>The causal-LM trainer's settings.</summary>
    public CausalLmTrainerOptions ToTrainerOptions() => new()
    {
        Steps = Steps,
        BatchSize = BatchSize,
        AccumulationSteps = AccumulationSteps,
        LearningRate = LearningRate,
        WarmupSteps = WarmupSteps,
        EvalEvery = EvalEvery,
        Patience = Patience,
        Seed = Seed,
    };
}
