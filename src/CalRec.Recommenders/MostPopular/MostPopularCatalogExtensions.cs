using CalRec.Recommenders.Catalogs;

namespace CalRec.Recommenders.MostPopular;

/// <summary>The MostPopular trainers on <see cref="TrainersCatalog"/> (<c>ctx.Trainers</c>).</summary>
internal static class MostPopularCatalogExtensions
{
    /// <summary>MostPopular: training-split item counts, the same list for everyone.</summary>
    public static MostPopularTrainer MostPopular(this TrainersCatalog catalog) => new();
}
