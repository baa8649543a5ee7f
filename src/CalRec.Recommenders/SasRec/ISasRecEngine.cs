using CalRec.Tensors;
using CalRec.Tensors.Optim;

namespace CalRec.Recommenders.SasRec;

/// <summary>
/// The tensor engine that runs SASRec's training step (the network's forward pass on a batch of left-padded windows,
/// the loss at every position with a next item, backward, AdamW). <see cref="SasRecTraining"/> keeps the loop (batch
/// order, negatives, validation, early stopping, checkpoints) and reads the weights back through
/// <see cref="CopyWeightsTo"/> before each validation. Without an engine it steps on our own; CalRec.Torch provides one
/// on TorchSharp.
/// </summary>
public interface ISasRecEngine : IDisposable
{
    /// <summary>
    /// One optimizer step over a batch given as micro-batches (<see cref="SasRecBatch.Split"/>): each one's mean loss
    /// times its share backward, the gradients adding up to the whole batch's, then one AdamW update. Returns the
    /// whole batch's loss.
    /// </summary>
    float Step(IReadOnlyList<SasRecBatch> microBatches, float learningRate);

    /// <summary>Writes the engine's weights into our network's parameters (by their names).</summary>
    void CopyWeightsTo(IEnumerable<(string Name, ManagedTensor Parameter)> parameters);

    /// <summary>
    /// Writes the engine's optimizer state (AdamW's moments and step count) into <paramref name="optimizer"/>, our
    /// optimizer over <paramref name="parameters"/> (matched by name), so that a checkpoint holds it.
    /// </summary>
    void CopyOptimizerStateTo(IEnumerable<(string Name, ManagedTensor Parameter)> parameters, AdamWOptimizer optimizer);

    /// <summary>Sets the engine's optimizer state from <paramref name="optimizer"/> (restored from a checkpoint).</summary>
    void LoadOptimizerStateFrom(IEnumerable<(string Name, ManagedTensor Parameter)> parameters, AdamWOptimizer optimizer);
}

/// <summary>The network and optimizer an engine reproduces.</summary>
/// <param name="ItemCount">Items in the catalogue (the table has one more row, 0, for padding).</param>
/// <param name="Hidden">Embedding and hidden size.</param>
/// <param name="Blocks">Self-attention blocks.</param>
/// <param name="Heads">Attention heads.</param>
/// <param name="MaxLength">Window length.</param>
/// <param name="Dropout">Dropout rate in training.</param>
/// <param name="Beta1">AdamW's first-moment decay.</param>
/// <param name="Beta2">AdamW's second-moment decay.</param>
/// <param name="Loss">The training loss.</param>
/// <param name="Seed">Seeds the engine's own random numbers (dropout masks).</param>
public sealed record SasRecEngineSettings(int ItemCount, int Hidden, int Blocks, int Heads, int MaxLength, float Dropout, float Beta1, float Beta2, SasRecLoss Loss, ulong Seed);

/// <summary>Creates an engine from the network's initial weights (by name) and its settings.</summary>
public delegate ISasRecEngine SasRecEngineFactory(IEnumerable<(string Name, ManagedTensor Parameter)> weights, SasRecEngineSettings settings);
