using CalRec.Recommenders.Persistence;

namespace CalRec.Recommenders.Catalogs;

/// <summary>Model persistence and serving operations of a <see cref="RecContext"/>.</summary>
internal sealed class RecModelCatalog
{
    internal RecModelCatalog()
    {
    }

    /// <summary>
    /// Writes <paramref name="model"/> as one zip with a versioned entry per component (catalogue, training record,
    /// weights), atomically: an existing file is replaced only by a complete new one.
    /// </summary>
    public void Save(RecommenderModel model, string path) => ModelArchive.Save(model, path);

    /// <summary>
    /// Loads a model zip. A file that is not a model zip, is truncated, or comes from a newer format version raises a
    /// <see cref="ModelFormatException"/> that says which.
    /// </summary>
    public RecommenderModel Load(string path) => ModelArchive.Load(path);

    /// <summary>A single-user recommender (not thread-safe; cheap to create).</summary>
    public Recommender CreateRecommender(RecommenderModel model) => new(model);
}
