using CalRec.Data;

namespace CalRec.Recommenders.Persistence;

/// <summary>What a component serializer gets to rebuild a model from the extracted zip.</summary>
/// <param name="Kind">The model kind named in the manifest.</param>
/// <param name="Folder">The component's extracted folder.</param>
/// <param name="ModelPath">The zip's path, for error messages.</param>
/// <param name="Catalog">The model's catalogue.</param>
/// <param name="Training">The model's training provenance.</param>
internal sealed record ModelComponentContext(string Kind, string Folder, string ModelPath, IReadOnlyList<CatalogItem> Catalog, TrainingInfo Training);

/// <summary>
/// Writes and reads one model kind's folder inside the model zip. Each recommender's folder holds its own serializer;
/// <see cref="ModelComponentRegistry"/> finds every implementation in this assembly, so adding a model kind changes no
/// central file.
/// </summary>
internal interface IModelComponentSerializer
{
    /// <summary>The component's folder in the zip and its key in the manifest's <c>components</c>.</summary>
    string Component { get; }

    /// <summary>The newest component version this build writes and reads.</summary>
    int Version { get; }

    /// <summary>The model kinds stored as this component.</summary>
    IReadOnlyList<string> Kinds { get; }

    /// <summary>Whether this serializer writes <paramref name="model"/>.</summary>
    bool CanSave(RecommenderModel model);

    /// <summary>Writes the model's component files into <paramref name="folder"/> (created by the caller).</summary>
    void Save(RecommenderModel model, string folder);

    /// <summary>Rebuilds the model; bad or missing files are a <see cref="ModelFormatException"/>.</summary>
    RecommenderModel Load(ModelComponentContext context);
}
