using CalRec.Data;
using CalRec.Data.Readers;
using CalRec.Data.Synthetic;

namespace CalRec.Bench;

/// <summary>The dataset a benchmark measures on: the one given, else one of ../shared/data when present, else a synthetic catalogue.</summary>
internal static class BenchData
{
    /// <summary>
    /// <paramref name="dataPath"/>, else ../shared/data/<paramref name="defaultDataset"/> when it is there, else the
    /// synthetic catalogue of <paramref name="syntheticSeed"/>; with a label for the benchmark's config ("amazon-office
    /// titles", "synthetic titles").
    /// </summary>
    public static (InteractionDataset Data, string Name) Load(string? dataPath, string defaultDataset, ulong syntheticSeed)
    {
        string shared = Path.Combine("..", "shared", "data", defaultDataset);
        string? path = dataPath ?? (Directory.Exists(shared) ? shared : null);
        return path is null
            ? (SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = syntheticSeed }).ToDataset(), "synthetic titles")
            : (DatasetReader.Load(path), $"{Path.GetFileName(Path.GetFullPath(path).TrimEnd(Path.DirectorySeparatorChar))} titles");
    }
}
