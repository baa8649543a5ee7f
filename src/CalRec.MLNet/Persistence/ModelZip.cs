using System.IO.Compression;
using System.Text.Json;
using CalRec.Recommenders;
using CalRec.Recommenders.Persistence;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace CalRec.MLNet.Persistence;

/// <summary>
/// Models in the zip that <c>mlContext.Model.Save</c> writes, through ML.NET's public API only. ML.NET's own transforms
/// save themselves as usual; each of our transformers saves, in its place in the pipeline, a
/// <see cref="CustomMappingTransformer{TSrc, TDst}"/> with the contract <see cref="ContractName"/> (public API), and its
/// recommender (catalogue, weights, tokenizer, indexes, grounding settings) goes into the same zip under
/// <c>CalRec.MLNet/&lt;n&gt;/</c> in save order, with <c>CalRec.MLNet/components.json</c> listing them. Loading registers
/// this assembly, loads the pipeline with <c>mlContext.Model.Load</c> and puts each recommender back where its
/// placeholder stands. Plain <c>mlContext.Model.Load</c> on such a zip fails with a message naming the loader; plain
/// <c>mlContext.Model.Save</c> of a pipeline holding a recommender fails the same way (it could not write the weights).
/// </summary>
internal static class ModelZip
{
    internal const string ContractName = "CalRec.MLNet.SequentialRecommender";
    internal const string FormatName = "calrec-mlnet";
    internal const int FormatVersion = 1;
    private const string Prefix = "CalRec.MLNet/";
    private const string ManifestEntry = Prefix + "components.json";
    private const string LegacyManifestEntry = "calrec-model.json";
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    [ThreadStatic]
    private static List<SequentialRecommendationTransformer>? t_saving;

    [ThreadStatic]
    private static bool t_loading;

    /// <summary>The message of every route that bypasses the loader.</summary>
    internal const string UseLoader = "This model holds CalRec.MLNet recommenders, whose weights are stored beside ML.NET's entries: load it with mlContext.SequentialRecommendation().LoadModel(path, out var inputSchema).";

    /// <summary>Writes <paramref name="model"/> (any pipeline) to <paramref name="path"/> atomically.</summary>
    internal static void Save(MLContext ml, ITransformer model, DataViewSchema inputSchema, string path)
    {
        ArgumentNullException.ThrowIfNull(model);
        string full = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(folder))
        {
            throw new DirectoryNotFoundException($"{path}: folder '{folder}' does not exist.");
        }

        StagingFiles.RemoveStale(full);
        string temp = StagingFiles.Create(full, "tmp");
        string part = StagingFiles.Create(full, "part");
        t_saving = [];
        try
        {
            ml.Model.Save(model, inputSchema, temp);
            List<SequentialRecommendationTransformer> components = t_saving;
            t_saving = null;
            using (ZipArchive zip = ZipFile.Open(temp, ZipArchiveMode.Update))
            {
                var manifest = new Manifest(FormatName, FormatVersion, components.Select(c => new ComponentEntry(c.Model.Kind, c.Columns)).ToList());
                using (Stream s = zip.CreateEntry(ManifestEntry).Open())
                {
                    JsonSerializer.Serialize(s, manifest, Json);
                }

                for (int i = 0; i < components.Count; i++)
                {
                    ModelArchive.Save(components[i].Model, part);
                    zip.CreateEntryFromFile(part, $"{Prefix}{i}/model.zip", CompressionLevel.NoCompression);
                }
            }

            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            t_saving = null;
            File.Delete(temp);
            File.Delete(part);
        }
    }

    /// <summary>
    /// Loads a model zip written by <see cref="Save"/>, a plain ML.NET model, or a model archive of CalRec.Recommenders
    /// (the format before this one, loaded as a transformer with the default columns).
    /// </summary>
    internal static ITransformer Load(MLContext ml, string path, out DataViewSchema inputSchema)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path}: model file not found.", path);
        }

        string part = Path.Combine(Path.GetTempPath(), $"calrec-mlnet-{Guid.NewGuid():N}.zip");
        try
        {
            Manifest? manifest;
            var components = new List<SequentialRecommendationTransformer>();
            try
            {
                using ZipArchive zip = ZipFile.OpenRead(path);
                if (zip.GetEntry(ManifestEntry) is not { } entry)
                {
                    if (zip.GetEntry(LegacyManifestEntry) is not null)
                    {
                        zip.Dispose();
                        RecommenderModel legacy = ModelArchive.Load(path);
                        inputSchema = HistorySchema(RecommendationColumns.Default);
                        return new SequentialRecommendationTransformer(ml, legacy, RecommendationColumns.Default);
                    }

                    manifest = null;
                }
                else
                {
                    using (Stream s = entry.Open())
                    {
                        manifest = JsonSerializer.Deserialize<Manifest>(s, Json);
                    }

                    if (manifest is null || manifest.Format != FormatName)
                    {
                        throw new ModelFormatException(path, $"{ManifestEntry} is not a {FormatName} manifest");
                    }

                    if (manifest.Version > FormatVersion)
                    {
                        throw new ModelFormatException(path, $"written by a newer CalRec.MLNet ({FormatName} version {manifest.Version}; this one reads up to {FormatVersion})");
                    }

                    for (int i = 0; i < manifest.Components.Count; i++)
                    {
                        ZipArchiveEntry model = zip.GetEntry($"{Prefix}{i}/model.zip") ?? throw new ModelFormatException(path, $"entry {Prefix}{i}/model.zip is missing");
                        model.ExtractToFile(part, overwrite: true);
                        components.Add(new SequentialRecommendationTransformer(ml, ModelArchive.Load(part), manifest.Components[i].Columns));
                    }
                }
            }
            catch (Exception ex) when (ex is InvalidDataException or JsonException)
            {
                throw new ModelFormatException(path, $"not a readable model zip: truncated or corrupt ({ex.Message})", ex);
            }

            ml.ComponentCatalog.RegisterAssembly(typeof(ModelZip).Assembly);
            ITransformer loaded;
            t_loading = true;
            try
            {
                using FileStream stream = File.OpenRead(path);
                loaded = ml.Model.Load(stream, out inputSchema);
            }
            finally
            {
                t_loading = false;
            }

            int next = 0;
            ITransformer result = Restore(loaded, components, ref next);
            if (next != components.Count)
            {
                throw new ModelFormatException(path, $"the pipeline has {next} recommender placeholders but {ManifestEntry} lists {components.Count} recommenders");
            }

            return result;
        }
        finally
        {
            File.Delete(part);
        }
    }

    /// <summary>Called by <see cref="SequentialRecommendationTransformer"/>'s <see cref="ICanSaveModel.Save"/>.</summary>
    internal static void SaveComponent(SequentialRecommendationTransformer transformer, MLContext ml, ModelSaveContext ctx)
    {
        if (t_saving is null)
        {
            throw new InvalidOperationException("This pipeline holds a CalRec.MLNet recommender, whose weights mlContext.Model.Save cannot write: save it with mlContext.SequentialRecommendation().SaveModel(model, inputSchema, path).");
        }

        t_saving.Add(transformer);
        IDataView empty = ml.Data.LoadFromEnumerable(Array.Empty<PlaceholderRow>());
        ICanSaveModel placeholder = ml.Transforms.CustomMapping<PlaceholderRow, PlaceholderRow>(SequentialRecommenderMappingFactory.Placeholder, ContractName).Fit(empty);
        placeholder.Save(ctx);
    }

    /// <summary>What the factory gives ML.NET for each placeholder while loading; outside <see cref="Load"/> it refuses.</summary>
    internal static Action<PlaceholderRow, PlaceholderRow> PlaceholderMapping() =>
        t_loading ? SequentialRecommenderMappingFactory.Placeholder : throw new InvalidOperationException(UseLoader);

    /// <summary>The schema of a history table named by <paramref name="columns"/>.</summary>
    internal static DataViewSchema HistorySchema(RecommendationColumns columns)
    {
        var builder = new DataViewSchema.Builder();
        builder.AddColumn(columns.UserIdColumnName, TextDataViewType.Instance);
        builder.AddColumn(columns.HistoryColumnName, new VectorDataViewType(TextDataViewType.Instance));
        return builder.ToSchema();
    }

    // Puts the recommenders back in place of their placeholders, depth first in pipeline order (the order they were saved in).
    private static ITransformer Restore(ITransformer loaded, List<SequentialRecommendationTransformer> components, ref int next)
    {
        if (loaded is CustomMappingTransformer<PlaceholderRow, PlaceholderRow>)
        {
            return next < components.Count ? components[next++] : throw new InvalidDataException("more recommender placeholders than saved recommenders");
        }

        if (loaded is TransformerChain<ITransformer> chain)
        {
            var parts = new List<ITransformer>();
            foreach (ITransformer t in chain)
            {
                parts.Add(Restore(t, components, ref next));
            }

            return new TransformerChain<ITransformer>([.. parts]);
        }

        return loaded;
    }

    private sealed record Manifest(string Format, int Version, List<ComponentEntry> Components);

    private sealed record ComponentEntry(string Kind, RecommendationColumns Columns);
}

/// <summary>
/// The row type of the placeholder mapping that stands for a recommender inside ML.NET's part of a model zip. It has
/// no columns and is never used to map data.
/// </summary>
public sealed class PlaceholderRow
{
}

/// <summary>
/// Found by ML.NET through <see cref="CustomMappingFactoryAttributeAttribute"/> when it loads a model zip holding a
/// recommender placeholder (see the persistence notes in docs/DESIGN.md). Only
/// <c>mlContext.SequentialRecommendation().LoadModel</c> can load such a zip; elsewhere <see cref="GetMapping"/> says so.
/// </summary>
[CustomMappingFactoryAttribute(ModelZip.ContractName)]
public sealed class SequentialRecommenderMappingFactory : CustomMappingFactory<PlaceholderRow, PlaceholderRow>
{
    /// <summary>The placeholder's mapping while <c>LoadModel</c> runs; otherwise an error naming it.</summary>
    public override Action<PlaceholderRow, PlaceholderRow> GetMapping() => ModelZip.PlaceholderMapping();

    // The placeholder is replaced by its recommender as soon as the pipeline is loaded, so its mapping never runs.
    internal static void Placeholder(PlaceholderRow input, PlaceholderRow output) => throw new InvalidOperationException(ModelZip.UseLoader);
}
