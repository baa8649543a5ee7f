using CalRec.Models.Decoder;
using CalRec.Models.Embeddings;
using CalRec.Models.Training;
using CalRec.Tensors.Optim;

namespace CalRec.Recommenders.CalRec;

/// <summary>
/// The tensor engine that runs CALRec's finetuning step (L = w_lm·L_NIG + w_tt·L_TT + w_ut·L_UT on a
/// <see cref="HistoryBatch"/>, AdamW, gradient clipping) for one stage. <see cref="CalRecTrainer"/> keeps everything
/// else (batches, schedule, validation, model selection, checkpoints) and reads the weights back through
/// <see cref="CopyWeightsTo"/> before each validation, each checkpoint and at the end of the stage. Without an engine
/// the trainer steps on our own (the default); CalRec.Torch provides one on TorchSharp for GPUs. Checkpoints hold the
/// engine's optimizer state through <see cref="CopyOptimizerStateTo"/> and <see cref="LoadOptimizerStateFrom"/>.
/// </summary>
public interface ICalRecEngine : IDisposable
{
    /// <summary>
    /// One optimizer step with <paramref name="learningRate"/> on a batch given as one or more micro-batches, whose
    /// gradients add up (each weighted by <see cref="LossWeights.ShareOf"/>) before clipping and the update; returns
    /// the step's loss terms (<see cref="LossValues.Combine"/>).
    /// </summary>
    LossValues Step(IReadOnlyList<HistoryBatch> microBatches, float learningRate);

    /// <summary>Writes the engine's current weights into <paramref name="model"/> (same configuration).</summary>
    void CopyWeightsTo(DecoderLM model);

    /// <summary>
    /// The towers' forward pass on the engine's current weights, where they are (validation during a stage runs
    /// through it; the weights come back only for a new best, a checkpoint and the stage's end).
    /// </summary>
    ICalRecTowers Towers { get; }

    /// <summary>
    /// Keeps an exponential moving average of the trainable weights on the engine from now on, starting from
    /// <paramref name="average"/>'s values and update count (the stage's start, or a checkpoint's), updated after every
    /// <see cref="Step"/> as <see cref="WeightAverage.Update"/> does (<see cref="CalRecTrainer.Options.WeightAverage"/>).
    /// </summary>
    void StartAverage(WeightAverage average);

    /// <summary>Exchanges the engine's weights and its average in place (validation runs on the average between two calls).</summary>
    void SwapAverage();

    /// <summary>Writes the engine's average and its update count into <paramref name="average"/> (for a new best and a checkpoint).</summary>
    void CopyAverageTo(WeightAverage average);

    /// <summary>
    /// Writes the engine's optimizer state (AdamW's moments per trainable parameter and its step count) into
    /// <paramref name="optimizer"/>, our optimizer over <paramref name="model"/>'s trainable parameters (matched by name),
    /// so that a checkpoint holds it.
    /// </summary>
    void CopyOptimizerStateTo(DecoderLM model, AdamWOptimizer optimizer);

    /// <summary>
    /// Sets the engine's optimizer state from <paramref name="optimizer"/> (restored from a checkpoint), so that a resumed
    /// stage continues with the moments it stopped with.
    /// </summary>
    void LoadOptimizerStateFrom(DecoderLM model, AdamWOptimizer optimizer);
}

/// <summary>What a stage's engine must reproduce of our step.</summary>
/// <param name="Weights">The loss weights.</param>
/// <param name="Pooling">How the towers pool token states.</param>
/// <param name="Temperature">The contrastive terms' temperature.</param>
/// <param name="WeightDecay">AdamW's decoupled weight decay on matrices (vectors do not decay).</param>
/// <param name="ClipNorm">Gradient-norm clipping.</param>
/// <param name="Beta1">AdamW's first-moment decay.</param>
/// <param name="Beta2">AdamW's second-moment decay.</param>
/// <param name="Seed">Seeds the engine's own random numbers (dropout masks).</param>
public sealed record CalRecStepSettings(LossWeights Weights, Pooling Pooling, float Temperature, float WeightDecay, float ClipNorm, float Beta1, float Beta2, ulong Seed);

/// <summary>Creates the engine of a stage from the model's weights at the start of the stage.</summary>
public delegate ICalRecEngine CalRecEngineFactory(DecoderLM model, CalRecStepSettings settings);
