using System.Diagnostics;
using System.Globalization;
using CalRec.Data.Splits;
using CalRec.Models.Embeddings;
using CalRec.Recommenders.Evaluation;

namespace CalRec.Recommenders.LlmSeqSim;

/// <summary>
/// LLMSeqSim (Harte et al.): embeds every item text once with a text encoder; a session is the (weighted) mean of its
/// items' embeddings and items are ranked by cosine similarity. "Fitting" embeds the catalogue and reports the
/// validation NDCG@10.
/// </summary>
public sealed class LlmSeqSimTrainer : RecommenderTrainer
{
    /// <summary>Settings of <see cref="LlmSeqSimTrainer"/>.</summary>
    public sealed record Options
    {
        /// <summary>How a history becomes one session embedding.</summary>
        [TrainerOption("aggregation", "How a history's item embeddings become one session embedding.")]
        public SessionAggregation Aggregation { get; init; } = SessionAggregation.Last;

        /// <summary>Most recent items used.</summary>
        [TrainerOption("max-history", "Most recent items of a history used.")]
        public int MaxHistory { get; init; } = 50;
    }

    private readonly RecContext _context;
    private readonly ITextEncoder _encoder;

    /// <summary>The kind of the models this trainer fits (<see cref="RecommenderModel.Kind"/>).</summary>
    public const string ModelKind = "llmseqsim";

    internal LlmSeqSimTrainer(RecContext context, ITextEncoder encoder, Options options)
    {
        _context = context;
        _encoder = encoder;
        TrainerOptions = options;
    }

    /// <summary>The settings.</summary>
    public Options TrainerOptions { get; }

    /// <inheritdoc />
    public override RecommenderModel Fit(LeaveOneOutSplit split, CancellationToken cancellation = default)
    {
        var clock = Stopwatch.StartNew();
        _context.Report(ModelKind, $"embedding {split.Data.ItemCount:N0} item texts");
        float[] vectors = _encoder.Encode(split.Data.Items.Select(i => i.ToText()).ToList(), cancellation);
        cancellation.ThrowIfCancellationRequested();
        var scorer = new LlmSeqSimScorer(vectors, _encoder.Dimension, TrainerOptions.Aggregation, TrainerOptions.MaxHistory);
        double validation = RecommendationEvaluator.Evaluate(scorer, split.Validation, new RecommendationEvaluatorOptions { Ks = [10], BootstrapSamples = 0 })["ndcg@10"].Value;
        _context.Report(ModelKind, string.Create(CultureInfo.InvariantCulture, $"validation NDCG@10 {validation:F4}"));
        return new RecommenderModel(ModelKind, scorer, split.Data.Items,
            new TrainingInfo(split.Data.Name, DateTimeOffset.UtcNow, clock.Elapsed.TotalSeconds, 0, validation, DeclaredOptions.Describe(TrainerOptions)));
    }
}
