namespace CalRec.Recommenders.SasRec;

public sealed partial class SasRecTrainer
{
    /// <summary>SASRec hyper-parameters (defaults: the public implementation's, with full-softmax cross-entropy).</summary>
    public sealed record Options
    {
        /// <summary>Embedding and hidden size.</summary>
        [TrainerOption("hidden", "Embedding and hidden size.")]
        public int Hidden { get; init; } = 64;

        /// <summary>Transformer blocks.</summary>
        [TrainerOption("blocks", "Transformer blocks.")]
        public int Blocks { get; init; } = 2;

        /// <summary>Attention heads.</summary>
        [TrainerOption("heads", "Attention heads.")]
        public int Heads { get; init; } = 1;

        /// <summary>Most recent items the model reads.</summary>
        [TrainerOption("max-length", "Most recent items the model reads.")]
        public int MaxLength { get; init; } = 50;

        /// <summary>Dropout rate.</summary>
        [TrainerOption("dropout", "Dropout rate.")]
        public float Dropout { get; init; } = 0.5f;

        /// <summary>Users per step.</summary>
        [TrainerOption("batch-size", "Users per step.")]
        public int BatchSize { get; init; } = 128;

        /// <summary>How users are grouped into batches.</summary>
        [TrainerOption("batching", "Batches of users in a fresh random order every epoch, or fixed length-sorted buckets (less padding).")]
        public SasRecBatching Batching { get; init; } = SasRecBatching.RandomUsers;

        /// <summary>Micro-batches per step, whose gradients add up before the step (less memory per pass, the same step).</summary>
        [TrainerOption("accumulation-steps", "Split each batch into this many micro-batches whose gradients add up before the step (less memory per pass).")]
        public int AccumulationSteps { get; init; } = 1;

        /// <summary>Adam learning rate.</summary>
        [TrainerOption("lr", "Adam learning rate.")]
        public float LearningRate { get; init; } = 1e-3f;

        /// <summary>Most passes over the users.</summary>
        [TrainerOption("epochs", "Most passes over the users.")]
        public int MaxEpochs { get; init; } = 200;

        /// <summary>Stop after this many epochs without a better validation NDCG@10 (0: never stop early).</summary>
        [TrainerOption("patience", "Stop after this many epochs without a better validation NDCG@10 (0: never).")]
        public int Patience { get; init; } = 5;

        /// <summary>Epochs always trained before early stopping may stop training (small sets plateau early, then improve).</summary>
        [TrainerOption("min-epochs", "Epochs always trained before early stopping may stop.")]
        public int MinEpochs { get; init; } = 20;

        /// <summary>The loss.</summary>
        [TrainerOption("loss", "Full-softmax cross-entropy, or binary cross-entropy with sampled negatives.")]
        public SasRecLoss Loss { get; init; } = SasRecLoss.CrossEntropy;

        /// <summary>Negatives per position with <see cref="SasRecLoss.BinaryCrossEntropy"/>.</summary>
        [TrainerOption("negatives", "Negatives per position with the binary cross-entropy loss.")]
        public int NegativeSamples { get; init; } = 1;

        /// <summary>
        /// Wall-time budget of training in minutes, validation included (0: none): no epoch starts that would end past it,
        /// judged by the previous epoch's duration (the first epoch always runs; the best epoch so far is kept).
        /// </summary>
        [TrainerOption("minutes", "Time budget in minutes, validation included (0: none); the best epoch so far is kept.")]
        public double MaxMinutes { get; init; }

        /// <summary>Seed for weights, dropout and batch order.</summary>
        [TrainerOption("seed", "Seed for weights, dropout and batch order.")]
        public ulong Seed { get; init; } = 42;

        /// <summary>
        /// Initial item table, row-major [items, Hidden] (LLM2SASRec: PCA-reduced language-model embeddings). Rescaled to the
        /// random initialization's standard deviation and kept trainable. Null: random initialization.
        /// </summary>
        public float[]? InitialItemEmbeddings { get; init; }

        /// <summary>
        /// Folder for a resumable checkpoint, written atomically after every epoch (null: none). A killed or cancelled run
        /// loses at most the epoch in progress.
        /// </summary>
        public string? CheckpointDirectory { get; init; }

        /// <summary>Continue from <see cref="CheckpointDirectory"/> instead of starting over (the same data and settings).</summary>
        public bool Resume { get; init; }

        /// <summary>The settings saved in a checkpoint folder, with <see cref="Resume"/> set: continue that run with the same data.</summary>
        public static Options FromCheckpoint(string checkpointDirectory) => SasRecCheckpoint.ReadOptions(checkpointDirectory);
    }
}
