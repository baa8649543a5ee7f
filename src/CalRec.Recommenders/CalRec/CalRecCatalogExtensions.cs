using CalRec.Recommenders.Catalogs;

namespace CalRec.Recommenders.CalRec;

/// <summary>The CalRec trainers on <see cref="TrainersCatalog"/> (<c>ctx.Trainers</c>).</summary>
internal static class CalRecCatalogExtensions
{
    /// <summary>CALRec with every setting given.</summary>
    public static CalRecTrainer CalRec(this TrainersCatalog catalog, CalRecTrainer.Options options) => new(catalog.Context, options);
}
