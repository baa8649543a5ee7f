using CalRec.Models.Embeddings;
using CalRec.Recommenders.CalRec;
using CalRec.Recommenders.LlmSeqSim;
using CalRec.Recommenders.MostPopular;
using CalRec.Recommenders.SasRec;

namespace CalRec.Recommenders.Catalogs;

/// <summary>Recommender trainers of a <see cref="RecContext"/>. Each has a simple overload and one taking its options.</summary>
public sealed class TrainersCatalog
{
    private readonly RecContext _context;

    internal TrainersCatalog(RecContext context) => _context = context;

    /// <summary>MostPopular: training-split item counts, the same list for everyone.</summary>
    public MostPopularTrainer MostPopular() => new();

    /// <summary>SASRec with the most used settings; the rest keep <see cref="SasRecOptions"/>'s defaults and the context seed.</summary>
    public SasRecTrainer SasRec(int hidden = 64, int maxLength = 50, float dropout = 0.5f, int maxEpochs = 200, SasRecLoss loss = SasRecLoss.CrossEntropy) =>
        SasRec(new SasRecOptions { Hidden = hidden, MaxLength = maxLength, Dropout = dropout, MaxEpochs = maxEpochs, Loss = loss, Seed = _context.Seed });

    /// <summary>SASRec with every setting given.</summary>
    public SasRecTrainer SasRec(SasRecOptions options) => new(_context, options, encoder: null);

    /// <summary>LLM2SASRec: SASRec whose item table starts from PCA-reduced <paramref name="encoder"/> embeddings of the item texts.</summary>
    public SasRecTrainer Llm2SasRec(ITextEncoder encoder, SasRecOptions? options = null) =>
        new(_context, options ?? new SasRecOptions { Seed = _context.Seed }, encoder);

    /// <summary>LLMSeqSim: sessions as aggregated item-text embeddings, items ranked by cosine similarity.</summary>
    public LlmSeqSimTrainer LlmSeqSim(ITextEncoder encoder, SessionAggregation aggregation = SessionAggregation.Last, int maxHistory = 50) =>
        LlmSeqSim(encoder, new LlmSeqSimOptions { Aggregation = aggregation, MaxHistory = maxHistory });

    /// <summary>LLMSeqSim with every setting given.</summary>
    public LlmSeqSimTrainer LlmSeqSim(ITextEncoder encoder, LlmSeqSimOptions options) => new(_context, encoder, options);

    /// <summary>
    /// CALRec with the most used settings (the rest keep <see cref="CalRecTrainer.Options"/>'s defaults and the context
    /// seed): a backbone preset trained from scratch (or a Hugging Face checkpoint folder), both finetuning stages, dense
    /// retrieval.
    /// </summary>
    public CalRecTrainer CalRec(string backbone = "mini", int stage1Epochs = 2, int stage2Epochs = 4, int batchSize = 16, int maxHistory = 10) =>
        CalRec(new CalRecTrainer.Options
        {
            Backbone = backbone,
            Stage1 = new CalRecStageOptions { Epochs = stage1Epochs, LearningRate = 1e-3f },
            Stage2 = new CalRecStageOptions { Epochs = stage2Epochs, LearningRate = 5e-4f },
            BatchSize = batchSize,
            MaxHistory = maxHistory,
            Seed = _context.Seed,
        });

    /// <summary>CALRec with every setting given.</summary>
    public CalRecTrainer CalRec(CalRecTrainer.Options options) => new(_context, options);
}
