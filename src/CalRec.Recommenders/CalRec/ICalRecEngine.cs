using CalRec.Models.Decoder;
using CalRec.Models.Embeddings;

namespace CalRec.Recommenders.CalRec;

/// <summary>
/// The tensor engine that runs CALRec's finetuning step (L = w_lm·L_NIG + w_tt·L_TT + w_ut·L_UT on a
/// <see cref="HistoryBatch"/>, AdamW, gradient clipping) for one stage. <see cref="CalRecTrainer"/> keeps everything
/// else (batches, schedule, validation, model selection, checkpoints) and reads the weights back through
/// <see cref="CopyWeightsTo"/> before each validation, each checkpoint and at the end of the stage. Without an engine
/// the trainer steps on our own (the default); CalRec.Torch provides one on TorchSharp for GPUs.
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
