using CalRec.Data;
using CalRec.Data.Preprocessing;
using CalRec.Data.Readers;
using CalRec.Data.Splits;
using CalRec.Data.Storage;
using CalRec.Recommenders.SasRec;

namespace CalRec.Recommenders.Catalogs;

/// <summary>Dataset operations of a <see cref="RecContext"/>.</summary>
public sealed class RecDataCatalog
{
    internal RecDataCatalog()
    {
    }

    /// <summary>
    /// Loads a dataset from a folder or file in any supported format (normalized layout, RecBole, MovieLens, Amazon
    /// reviews, CSV/TSV with a column map, SQLite), detected from the path unless <paramref name="options"/> names it.
    /// </summary>
    public InteractionDataset LoadFromPath(string path, DatasetReadOptions? options = null) => DatasetReader.Load(path, options);

    /// <summary>Writes <paramref name="data"/> to a SQLite database file (atomically).</summary>
    public void SaveAsSqlite(InteractionDataset data, string path) => SqliteStore.Save(data, path);

    /// <summary>Duplicate removal, iterative k-core and history truncation.</summary>
    public InteractionDataset Preprocess(InteractionDataset data, PreprocessingOptions options) => Preprocessor.Apply(data, options);

    /// <summary>Per-user leave-one-out split (last item test, second to last validation).</summary>
    public LeaveOneOutSplit LeaveOneOut(InteractionDataset data) => new(data);

    /// <summary>Global temporal split by interaction time.</summary>
    public TemporalSplit TemporalSplit(InteractionDataset data, double trainFraction = 0.8, double validationFraction = 0.1) =>
        new(data, trainFraction, validationFraction);
}
