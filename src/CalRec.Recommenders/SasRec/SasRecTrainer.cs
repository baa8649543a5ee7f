using System.Diagnostics;
using System.Globalization;
using CalRec.Data.Splits;
using CalRec.Models.Embeddings;
using CalRec.Recommenders.CalRec;
using CalRec.Tensors.LinearAlgebra;

namespace CalRec.Recommenders.SasRec;

/// <summary>
/// Trains SASRec (full-softmax cross-entropy by default, or BCE with sampled negatives) with early stopping on
/// validation NDCG@10. Given a text encoder it trains LLM2SASRec (Harte et al.): the item table starts from the
/// PCA-reduced text embeddings of the item texts and stays trainable.
/// </summary>
public sealed partial class SasRecTrainer : RecommenderTrainer
{
    private readonly RecContext _context;
    private readonly ITextEncoder? _encoder;

    /// <summary>Raised after every epoch (loss, validation NDCG@10, seconds).</summary>
    public event EventHandler<SasRecEpochReport>? Progress;

    /// <summary>The kind of a SASRec model (<see cref="RecommenderModel.Kind"/>).</summary>
    public const string ModelKind = "sasrec";

    /// <summary>The kind of an LLM2SASRec model: SASRec whose item table started from text embeddings.</summary>
    public const string Llm2SasRecModelKind = "llm2sasrec";

    internal SasRecTrainer(RecContext context, SasRecTrainer.Options options, ITextEncoder? encoder)
    {
        _context = context;
        TrainerOptions = options;
        _encoder = encoder;
    }

    /// <summary>The settings.</summary>
    public Options TrainerOptions { get; }

    /// <summary>The engine of the training steps (null: our own; CalRec.Torch's <c>TorchSasRecEngine.On(device)</c> for TorchSharp).</summary>
    public SasRecEngineFactory? Engine { get; set; }

    /// <inheritdoc />
    public override RecommenderModel Fit(LeaveOneOutSplit split, CancellationToken cancellation = default)
    {
        string kind = _encoder is null ? ModelKind : Llm2SasRecModelKind;
        var clock = Stopwatch.StartNew();
        Options options = TrainerOptions;
        // A resumed run takes its weights from the checkpoint: the text embeddings only initialize a fresh one.
        if (_encoder is not null && !options.Resume)
        {
            _context.Report(kind, $"embedding {split.Data.ItemCount:N0} item texts");
            float[] vectors = _encoder.Encode(split.Data.Items.Select(i => i.ToText()).ToList(), cancellation);
            Pca pca = Pca.Fit(vectors, _encoder.Dimension, options.Hidden);
            options = options with { InitialItemEmbeddings = pca.Transform(vectors) };
        }

        if (options.Resume)
        {
            _context.Report(kind, $"resuming from {options.CheckpointDirectory}");
        }

        double best = double.NaN;
        SasRecScorer scorer = SasRecTraining.Fit(split, options, r =>
        {
            best = double.IsNaN(best) ? r.ValidationNdcg10 : Math.Max(best, r.ValidationNdcg10);
            _context.Report(kind, string.Create(CultureInfo.InvariantCulture,
                $"epoch {r.Epoch}: loss {r.Loss:F4}, validation NDCG@10 {r.ValidationNdcg10:F4} (best {best:F4}), {r.Seconds:F1} s; at most {r.Remaining:hh\\:mm\\:ss} left"));
            Progress?.Invoke(this, r);
        }, cancellation, Engine);
        if (cancellation.IsCancellationRequested && options.CheckpointDirectory is not null)
        {
            _context.Report(kind, $"cancelled after epoch {scorer.Epochs}; checkpoint in {options.CheckpointDirectory}");
        }

        cancellation.ThrowIfCancellationRequested();
        var settings = new Dictionary<string, string>(DeclaredOptions.Describe(options)) { ["best_epoch"] = scorer.BestEpoch.ToString(CultureInfo.InvariantCulture) };
        return new RecommenderModel(kind, scorer, split.Data.Items,
            new TrainingInfo(split.Data.Name, DateTimeOffset.UtcNow, (clock.Elapsed + scorer.EarlierTime).TotalSeconds, scorer.Epochs, scorer.BestValidationNdcg10, settings));
    }
}
