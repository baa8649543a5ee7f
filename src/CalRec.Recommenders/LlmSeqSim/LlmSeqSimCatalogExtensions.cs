using CalRec.Models.Embeddings;
using CalRec.Recommenders.Catalogs;

namespace CalRec.Recommenders.LlmSeqSim;

/// <summary>The LlmSeqSim trainers on <see cref="TrainersCatalog"/> (<c>ctx.Trainers</c>).</summary>
internal static class LlmSeqSimCatalogExtensions
{
    /// <summary>LLMSeqSim: sessions as aggregated item-text embeddings, items ranked by cosine similarity.</summary>
    public static LlmSeqSimTrainer LlmSeqSim(this TrainersCatalog catalog, ITextEncoder encoder, SessionAggregation aggregation = SessionAggregation.Last, int maxHistory = 50) =>
        catalog.LlmSeqSim(encoder, new LlmSeqSimTrainer.Options { Aggregation = aggregation, MaxHistory = maxHistory });

    /// <summary>LLMSeqSim with every setting given.</summary>
    public static LlmSeqSimTrainer LlmSeqSim(this TrainersCatalog catalog, ITextEncoder encoder, LlmSeqSimTrainer.Options options) => new(catalog.Context, encoder, options);
}
