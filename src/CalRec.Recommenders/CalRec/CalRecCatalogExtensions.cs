using CalRec.Recommenders.Catalogs;

namespace CalRec.Recommenders.CalRec;

/// <summary>The CalRec trainers on <see cref="TrainersCatalog"/> (<c>ctx.Trainers</c>).</summary>
internal static class CalRecCatalogExtensions
{
    /// <summary>
    /// CALRec with the most used settings (the rest keep <see cref="CalRecTrainer.Options"/>'s defaults and the context
    /// seed): a backbone preset trained from scratch (or a Hugging Face checkpoint folder), both finetuning stages, dense
    /// retrieval.
    /// </summary>
    public static CalRecTrainer CalRec(this TrainersCatalog catalog, string backbone = "mini", int stage1Epochs = 2, int stage2Epochs = 4, int batchSize = 16, int maxHistory = 10) =>
        catalog.CalRec(new CalRecTrainer.Options
        {
            Backbone = backbone,
            Stage1 = new CalRecStageOptions { Epochs = stage1Epochs, LearningRate = 1e-3f },
            Stage2 = new CalRecStageOptions { Epochs = stage2Epochs, LearningRate = 5e-4f },
            BatchSize = batchSize,
            MaxHistory = maxHistory,
            Seed = catalog.Context.Seed,
        });

    /// <summary>CALRec with every setting given.</summary>
    public static CalRecTrainer CalRec(this TrainersCatalog catalog, CalRecTrainer.Options options) => new(catalog.Context, options);
}
