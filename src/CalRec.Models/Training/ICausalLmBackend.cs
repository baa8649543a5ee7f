using CalRec.Models.Configuration;
using CalRec.Tensors;
using CalRec.Text.Tokenization;

namespace CalRec.Models.Training;

/// <summary>
/// The tensor engine under <see cref="CausalLmTrainer"/>: one optimizer step, a validation loss, and the engine's part of
/// a checkpoint. The trainer owns everything else (batches, order, schedule, validation cadence, early stopping, the
/// checkpoint folder), so both engines train through the same loop. Implementations: <see cref="ManagedCausalLmBackend"/>
/// (our engine) and CalRec.Torch's TorchSharp backend.
/// </summary>
public interface ICausalLmBackend
{
    /// <summary>The model's configuration.</summary>
    DecoderConfig Config { get; }

    /// <summary>A short name written into checkpoints (<c>managed</c>, <c>torchsharp</c>).</summary>
    string Name { get; }

    /// <summary>Optimizer steps taken.</summary>
    long OptimizerSteps { get; }

    /// <summary>
    /// One AdamW step on next-token cross-entropy: gradients zeroed, each micro-batch's mean loss times its share
    /// backward (the gradients add up to the whole batch's), gradient clipping to <paramref name="clipNorm"/>, update
    /// with <paramref name="learningRate"/>. Returns the whole batch's loss.
    /// </summary>
    float TrainStep(IReadOnlyList<TokenBatch> microBatches, float learningRate, float clipNorm);

    /// <summary>The mean loss of one batch without gradients, in evaluation mode.</summary>
    float Loss(int[] ids, int[] targets, int batch, int seq);

    /// <summary>Writes the model (Hugging Face files) and <paramref name="tokenizer"/> into <paramref name="folder"/>.</summary>
    void WriteModel(string folder, ByteLevelBpeTokenizer? tokenizer);

    /// <summary>Writes the optimizer moments into <paramref name="folder"/>.</summary>
    void WriteOptimizer(string folder);

    /// <summary>Reads what <see cref="WriteOptimizer"/> wrote and sets the step count.</summary>
    void RestoreOptimizer(string folder, long steps);

    /// <summary>The generator of dropout masks when the engine draws them from one we can checkpoint, else null.</summary>
    SeededRandom? DropoutGenerator { get; }
}
