using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Nodes;
using CalRec.Data.Readers;

namespace CalRec.Recommenders.Persistence;

/// <summary>
/// The model zip: <c>calrec-model.json</c> (format name and version, model kind, and a version per component),
/// <c>catalog/items.tsv</c>, <c>training.json</c>, and one folder per component written by the kind's
/// <see cref="IModelComponentSerializer"/> (for example <c>sasrec/config.json</c> + <c>sasrec/model.safetensors</c>).
/// Files are staged in a temporary folder, zipped to a temporary file and renamed over the target, so a crash or an
/// error never leaves a half-written model.
/// </summary>
internal static class ModelArchive
{
    public const string FormatName = "calrec-model";
    public const int FormatVersion = 1;
    public const int CatalogVersion = 1;
    public const int TrainingVersion = 1;
    private const string ManifestEntry = "calrec-model.json";

    public static void Save(RecommenderModel model, string path)
    {
        string full = Path.GetFullPath(path);
        string parent = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(parent);
        StagingFiles.RemoveStale(full);
        string stage = StagingFiles.Create(full, "stage");
        string tempZip = StagingFiles.Create(full, "tmp");
        try
        {
            Directory.CreateDirectory(Path.Combine(stage, "catalog"));
            NormalizedDataset.WriteItems(Path.Combine(stage, "catalog", "items.tsv"), model.Catalog);
            File.WriteAllText(Path.Combine(stage, "training.json"), TrainingToJson(model.Training).ToJsonString(Indented));
            var components = new JsonObject { ["catalog"] = CatalogVersion, ["training"] = TrainingVersion };
            IModelComponentSerializer serializer = ModelComponentRegistry.ForModel(model);
            serializer.Save(model, Directory.CreateDirectory(Path.Combine(stage, serializer.Component)).FullName);
            components[serializer.Component] = serializer.Version;

            var manifest = new JsonObject
            {
                ["format"] = FormatName,
                ["format_version"] = FormatVersion,
                ["kind"] = model.Kind,
                ["components"] = components,
                ["created_utc"] = DateTimeOffset.UtcNow.ToString("O"),
                ["library"] = typeof(ModelArchive).Assembly.GetName().Version?.ToString(),
            };
            File.WriteAllText(Path.Combine(stage, ManifestEntry), manifest.ToJsonString(Indented));
            ZipFile.CreateFromDirectory(stage, tempZip, CompressionLevel.Fastest, includeBaseDirectory: false);
            File.Move(tempZip, full, overwrite: true);
        }
        finally
        {
            if (Directory.Exists(stage))
            {
                Directory.Delete(stage, recursive: true);
            }

            File.Delete(tempZip);
        }
    }

    public static RecommenderModel Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path}: model file not found.", path);
        }

        string stage = Path.Combine(Path.GetTempPath(), $"calrec-model-{Guid.NewGuid():N}");
        try
        {
            JsonObject manifest;
            try
            {
                using ZipArchive zip = ZipFile.OpenRead(path);
                ZipArchiveEntry entry = zip.GetEntry(ManifestEntry) ?? throw new ModelFormatException(path, $"not a CalRec model zip (no {ManifestEntry} entry)");
                using (Stream s = entry.Open())
                {
                    manifest = JsonNode.Parse(s) as JsonObject ?? throw new ModelFormatException(path, $"{ManifestEntry} is not a JSON object");
                }

                CheckVersions(path, manifest);
                zip.ExtractToDirectory(stage);
            }
            catch (Exception ex) when (ex is InvalidDataException or JsonException or IOException and not FileNotFoundException)
            {
                throw new ModelFormatException(path, $"not a readable model zip: truncated or corrupt ({ex.Message})", ex);
            }

            string kind = manifest["kind"]?.GetValue<string>() ?? throw new ModelFormatException(path, "the manifest names no model kind");
            var catalog = NormalizedDataset.ReadItems(Path.Combine(stage, "catalog", "items.tsv")).ToList();
            TrainingInfo training = TrainingFromJson(JsonNode.Parse(File.ReadAllText(Path.Combine(stage, "training.json")))!.AsObject());
            IModelComponentSerializer serializer = ModelComponentRegistry.ForKind(kind)
                ?? throw new ModelFormatException(path, $"model kind '{kind}' is unknown to this version of CalRec.Recommenders");
            try
            {
                return serializer.Load(new ModelComponentContext(kind, Path.Combine(stage, serializer.Component), path, catalog, training));
            }
            catch (ArgumentException ex)
            {
                // A component that does not fit the catalogue (RecommenderModel checks the item counts).
                throw new ModelFormatException(path, $"the {kind} component does not match the catalogue: {ex.Message}", ex);
            }
        }
        finally
        {
            if (Directory.Exists(stage))
            {
                Directory.Delete(stage, recursive: true);
            }
        }
    }

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private static void CheckVersions(string path, JsonObject manifest)
    {
        if (manifest["format"]?.GetValue<string>() != FormatName)
        {
            throw new ModelFormatException(path, $"not a CalRec model zip (format '{manifest["format"]}')");
        }

        int version = manifest["format_version"]?.GetValue<int>() ?? 0;
        if (version > FormatVersion)
        {
            throw new ModelFormatException(path, $"written with model format version {version} by a newer CalRec.MLNet; this version reads up to {FormatVersion}. Upgrade to load it.");
        }

        if (manifest["components"] is JsonObject components)
        {
            foreach ((string name, JsonNode? v) in components)
            {
                int supported = name switch
                {
                    "catalog" => CatalogVersion,
                    "training" => TrainingVersion,
                    _ => ModelComponentRegistry.SupportedVersion(name),
                };
                if (supported == 0)
                {
                    throw new ModelFormatException(path, $"component '{name}' is unknown to this version of CalRec.MLNet.");
                }

                if ((v?.GetValue<int>() ?? 0) > supported)
                {
                    throw new ModelFormatException(path, $"component '{name}' has version {v} from a newer CalRec.MLNet; this version reads up to {supported}. Upgrade to load it.");
                }
            }
        }
    }

    private static JsonObject TrainingToJson(TrainingInfo t)
    {
        var settings = new JsonObject();
        foreach ((string k, string v) in t.Settings)
        {
            settings[k] = v;
        }

        return new JsonObject
        {
            ["dataset"] = t.Dataset,
            ["trained_at_utc"] = t.TrainedAtUtc.ToString("O"),
            ["seconds"] = t.Seconds,
            ["epochs"] = t.Epochs,
            ["validation_ndcg@10"] = t.ValidationNdcg10,
            ["settings"] = settings,
        };
    }

    private static TrainingInfo TrainingFromJson(JsonObject o) => new(
        o["dataset"]?.GetValue<string>() ?? string.Empty,
        DateTimeOffset.Parse(o["trained_at_utc"]?.GetValue<string>() ?? "2000-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture),
        o["seconds"]?.GetValue<double>() ?? 0,
        o["epochs"]?.GetValue<int>() ?? 0,
        o["validation_ndcg@10"]?.GetValue<double?>(),
        (o["settings"] as JsonObject)?.ToDictionary(kv => kv.Key, kv => kv.Value?.ToString() ?? string.Empty) ?? []);
}
