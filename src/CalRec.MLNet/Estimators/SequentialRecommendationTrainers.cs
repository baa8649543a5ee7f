using CalRec.Data;
using CalRec.Data.Splits;
using CalRec.Models.Embeddings;
using CalRec.Recommenders;
using CalRec.Recommenders.CalRec;
using CalRec.Recommenders.LlmSeqSim;
using CalRec.Recommenders.MostPopular;
using CalRec.Recommenders.SasRec;
using Microsoft.ML;

namespace CalRec.MLNet;

/// <summary>
/// The trainers of <c>mlContext.SequentialRecommendation()</c>: each returns a <see cref="SequentialRecommenderEstimator"/>,
/// with a simple overload (default columns, the most used settings) and one taking the trainer's options.
/// </summary>
public sealed class SequentialRecommendationTrainers
{
    private readonly MLContext _mlContext;

    internal SequentialRecommendationTrainers(MLContext mlContext) => _mlContext = mlContext;

    /// <summary>MostPopular: the training interactions' most frequent items, the same list for everyone.</summary>
    public SequentialRecommenderEstimator MostPopular(string userIdColumnName = DefaultColumnNames.UserId, string itemIdColumnName = DefaultColumnNames.ItemId, IDataView? items = null) =>
        MostPopular(new MostPopularEstimatorOptions { UserIdColumnName = userIdColumnName, ItemIdColumnName = itemIdColumnName, Items = items });

    /// <summary>MostPopular with every setting given.</summary>
    public SequentialRecommenderEstimator MostPopular(MostPopularEstimatorOptions options) =>
        new(_mlContext, nameof(MostPopular), options, (ctx, data, ct) => ctx.Trainers.MostPopular().Fit(new LeaveOneOutSplit(data, options.HoldOutTestItem), ct));

    /// <summary>SASRec (self-attentive sequential recommendation over item ids) with the most used settings.</summary>
    public SequentialRecommenderEstimator SasRec(string userIdColumnName = DefaultColumnNames.UserId, string itemIdColumnName = DefaultColumnNames.ItemId, IDataView? items = null,
        int hidden = 64, int maxLength = 50, int maxEpochs = 200, ulong seed = 42) =>
        SasRec(new SasRecEstimatorOptions
        {
            UserIdColumnName = userIdColumnName,
            ItemIdColumnName = itemIdColumnName,
            Items = items,
            Trainer = new SasRecTrainer.Options { Hidden = hidden, MaxLength = maxLength, MaxEpochs = maxEpochs, Seed = seed },
        });

    /// <summary>SASRec with every setting given.</summary>
    public SequentialRecommenderEstimator SasRec(SasRecEstimatorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new(_mlContext, nameof(SasRec), options, (ctx, data, ct) =>
        {
            SasRecTrainer trainer = ctx.Trainers.SasRec(options.Trainer);
            trainer.Engine = options.Engine;
            if (options.Progress is IProgress<SasRecEpochReport> progress)
            {
                trainer.Progress += (_, e) => progress.Report(e);
            }

            return trainer.Fit(new LeaveOneOutSplit(data, options.HoldOutTestItem), ct);
        });
    }

    /// <summary>
    /// LLM2SASRec (Harte et al.): SASRec whose item table starts from PCA-reduced <paramref name="encoder"/> embeddings
    /// of the item texts (give the catalogue with titles in <see cref="SequentialRecommenderOptions.Items"/>).
    /// </summary>
    public SequentialRecommenderEstimator Llm2SasRec(ITextEncoder encoder, SasRecEstimatorOptions options)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentNullException.ThrowIfNull(options);
        return new(_mlContext, nameof(Llm2SasRec), options, (ctx, data, ct) =>
        {
            SasRecTrainer trainer = ctx.Trainers.Llm2SasRec(encoder, options.Trainer);
            trainer.Engine = options.Engine;
            if (options.Progress is IProgress<SasRecEpochReport> progress)
            {
                trainer.Progress += (_, e) => progress.Report(e);
            }

            return trainer.Fit(new LeaveOneOutSplit(data, options.HoldOutTestItem), ct);
        });
    }

    /// <summary>LLMSeqSim (Harte et al.): a history as the aggregate of its items' text embeddings, items ranked by cosine similarity.</summary>
    public SequentialRecommenderEstimator LlmSeqSim(ITextEncoder encoder, IDataView items, SessionAggregation aggregation = SessionAggregation.Last) =>
        LlmSeqSim(encoder, new LlmSeqSimEstimatorOptions { Items = items, Trainer = new LlmSeqSimTrainer.Options { Aggregation = aggregation } });

    /// <summary>LLMSeqSim with every setting given.</summary>
    public SequentialRecommenderEstimator LlmSeqSim(ITextEncoder encoder, LlmSeqSimEstimatorOptions options)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentNullException.ThrowIfNull(options);
        return new(_mlContext, nameof(LlmSeqSim), options, (ctx, data, ct) => ctx.Trainers.LlmSeqSim(encoder, options.Trainer).Fit(new LeaveOneOutSplit(data, options.HoldOutTestItem), ct));
    }

    /// <summary>
    /// CALRec with the most used settings: a backbone preset trained from scratch (stage 0, on the texts and histories of
    /// every domain) or a Hugging Face checkpoint folder, stage 1 on the mixture of the catalogue's domains when
    /// <paramref name="stage1Epochs"/> is given (the default skips it), stage 2 on <paramref name="targetDomain"/>; the
    /// stages' epochs, when given, replace <see cref="CalRecTrainer.Options"/>' defaults (every other setting keeps its
    /// default, two members included).
    /// </summary>
    public SequentialRecommenderEstimator CalRec(IDataView items, string? targetDomain = null, string backbone = "mini", int? stage1Epochs = null, int? stage2Epochs = null, ulong seed = 1)
    {
        var trainer = new CalRecTrainer.Options { Backbone = backbone, Seed = seed };
        trainer.Stage1.Epochs = stage1Epochs ?? trainer.Stage1.Epochs;
        trainer.Stage2.Epochs = stage2Epochs ?? trainer.Stage2.Epochs;
        return CalRec(new CalRecEstimatorOptions { Items = items, TargetDomain = targetDomain, Trainer = trainer });
    }

    /// <summary>CALRec with every setting given.</summary>
    public SequentialRecommenderEstimator CalRec(CalRecEstimatorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new(_mlContext, nameof(CalRec), options, (ctx, data, ct) =>
        {
            (InteractionDataset target, List<InteractionDataset> mixture) = TargetAndMixture(data, options.TargetDomain, options.MixtureDomains);
            CalRecTrainer trainer = ctx.Trainers.CalRec(options.Trainer);
            trainer.Engine = options.Engine;
            if (options.Progress is IProgress<CalRecProgress> progress)
            {
                trainer.Progress += (_, e) => progress.Report(e);
            }

            return trainer.Fit(new LeaveOneOutSplit(target, options.HoldOutTestItem), mixture, ct);
        });
    }

    // Stage 2's target and stage 1's mixture (one dataset per domain, the target's own object among them so that its
    // held-out items stay out of stage 1).
    internal static (InteractionDataset Target, List<InteractionDataset> Mixture) TargetAndMixture(InteractionDataset data, string? targetDomain,
        IReadOnlyList<string>? mixtureDomains = null)
    {
        IReadOnlyList<string> domains = data.Domains;
        foreach ((string? domain, string option) in mixtureDomains?.Select(d => ((string?)d, "MixtureDomains")).Prepend((targetDomain, "TargetDomain")) ?? [(targetDomain, "TargetDomain")])
        {
            if (domain is not null && !domains.Contains(domain, StringComparer.Ordinal))
            {
                throw new ArgumentException($"{option}: '{domain}' is not a domain of the catalogue (domains: {string.Join(", ", domains)}).", option);
            }
        }

        InteractionDataset target = targetDomain is null ? data : data.ForDomain(targetDomain);
        IEnumerable<string> stage1 = mixtureDomains?.Distinct(StringComparer.Ordinal) ?? (domains.Count > 1 ? domains : []);
        List<InteractionDataset> mixture = stage1.Select(d => d == targetDomain || (targetDomain is null && domains.Count == 1) ? target : data.ForDomain(d)).ToList();
        return (target, mixture);
    }
}
