using CalRec.Data;
using CalRec.Data.Readers;

namespace CalRec.Recommenders.Catalogs;

/// <summary>Dataset operations of a <see cref="RecContext"/>.</summary>
internal sealed class RecDataCatalog
{
    internal RecDataCatalog()
    {
    }

    /// <summary>
    /// Loads a dataset from a folder or file in any supported format (normalized layout, RecBole, MovieLens, Amazon
    /// reviews, CSV/TSV with a column map, SQLite), detected from the path unless <paramref name="options"/> names it.
    /// </summary>
    public InteractionDataset LoadFromPath(string path, DatasetReadOptions? options = null) => DatasetReader.Load(path, options);
}
