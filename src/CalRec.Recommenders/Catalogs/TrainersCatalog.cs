namespace CalRec.Recommenders.Catalogs;

/// <summary>
/// Recommender trainers of a <see cref="RecContext"/>. Each recommender's folder adds its own methods as extensions
/// (<c>MostPopularCatalogExtensions</c>, <c>SasRecCatalogExtensions</c>, ...), each with a simple overload and one
/// taking its options, so adding a recommender changes no central file.
/// </summary>
internal sealed class TrainersCatalog
{
    internal TrainersCatalog(RecContext context) => Context = context;

    /// <summary>The context the trainers log to and take their default seed from.</summary>
    internal RecContext Context { get; }
}
