using CalRec.Models.Embeddings;
using CalRec.Recommenders.Catalogs;

namespace CalRec.Recommenders.SasRec;

/// <summary>The SasRec trainers on <see cref="TrainersCatalog"/> (<c>ctx.Trainers</c>).</summary>
internal static class SasRecCatalogExtensions
{
    /// <summary>SASRec with the most used settings; the rest keep <see cref="SasRecTrainer.Options"/>'s defaults and the context seed.</summary>
    public static SasRecTrainer SasRec(this TrainersCatalog catalog, int hidden = 64, int maxLength = 50, float dropout = 0.5f, int maxEpochs = 200, SasRecLoss loss = SasRecLoss.CrossEntropy) =>
        catalog.SasRec(new SasRecTrainer.Options { Hidden = hidden, MaxLength = maxLength, Dropout = dropout, MaxEpochs = maxEpochs, Loss = loss, Seed = catalog.Context.Seed });

    /// <summary>SASRec with every setting given.</summary>
    public static SasRecTrainer SasRec(this TrainersCatalog catalog, SasRecTrainer.Options options) => new(catalog.Context, options, encoder: null);

    /// <summary>LLM2SASRec: SASRec whose item table starts from PCA-reduced <paramref name="encoder"/> embeddings of the item texts.</summary>
    public static SasRecTrainer Llm2SasRec(this TrainersCatalog catalog, ITextEncoder encoder, SasRecTrainer.Options? options = null) =>
        new(catalog.Context, options ?? new SasRecTrainer.Options { Seed = catalog.Context.Seed }, encoder);
}
