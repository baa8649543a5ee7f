using System.Text.Json.Nodes;
using CalRec.Baselines;
using CalRec.Data.Normalized;
using CalRec.Models.Checkpoints;
using CalRec.Models.Decoder;
using CalRec.Models.Embeddings;
using CalRec.Grounding;
using CalRec.Prediction;
using CalRec.Text.Retrieval;
using CalRec.Text.Templates;
using CalRec.Text.Tokenization;
using CalRec.TwoTower;
using CalRec.Evaluation;
using CalRec.Tensors;
using CalRec.Tensors.NN;
using CalRec.Tensors.Serialization;

namespace CalRec.Persistence;

/// <summary>
/// Saves and loads each model kind's scorer as a versioned component folder inside the model zip. A kind's files are
/// plain formats: JSON settings and safetensors weights with the module's parameter names.
/// </summary>
internal static class ScorerSerializers
{
    private const int MostPopularVersion = 1, SasRecVersion = 1, LlmSeqSimVersion = 1, CalRecVersion = 1;

    /// <summary>The newest version of component <paramref name="name"/> this build reads (0: unknown).</summary>
    public static int SupportedVersion(string name) => name switch
    {
        "mostpop" => MostPopularVersion,
        "sasrec" => SasRecVersion,
        "llmseqsim" => LlmSeqSimVersion,
        "calrec" => CalRecVersion,
        _ => 0,
    };

    private static readonly System.Text.Json.JsonSerializerOptions GroundingJson = new()
    {
        WriteIndented = true,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() },
    };

    /// <summary>Writes a CALRec model's grounding settings and BM25 index next to its component.</summary>
    public static void SaveGrounding(CalRecModel model, string stage)
    {
        string dir = Path.Combine(stage, "calrec");
        File.WriteAllText(Path.Combine(dir, "grounding.json"), System.Text.Json.JsonSerializer.Serialize(model.Grounding, GroundingJson));
        Bm25Index index = model.Bm25 ?? GroundedScorer.BuildIndex(model, model.Grounding);
        using FileStream f = File.Create(Path.Combine(dir, "bm25.index"));
        index.Save(f);
    }

    /// <summary>Reads what <see cref="SaveGrounding"/> wrote (older zips without it keep the defaults).</summary>
    public static void LoadGrounding(CalRecModel model, string stage, string path)
    {
        string dir = Path.Combine(stage, "calrec"), json = Path.Combine(dir, "grounding.json"), bm25 = Path.Combine(dir, "bm25.index");
        try
        {
            if (File.Exists(json))
            {
                model.Grounding = System.Text.Json.JsonSerializer.Deserialize<GroundingOptions>(File.ReadAllText(json), GroundingJson) ?? new GroundingOptions();
            }

            if (File.Exists(bm25))
            {
                using FileStream f = File.OpenRead(bm25);
                model.Bm25 = Bm25Index.Load(f, $"{path}: calrec/bm25.index");
                if (model.Bm25.Count != model.ItemCount)
                {
                    throw new ModelFormatException(path, $"calrec/bm25.index holds {model.Bm25.Count} documents for {model.ItemCount} items");
                }
            }
        }
        catch (Exception ex) when (ex is System.Text.Json.JsonException or InvalidDataException)
        {
            throw new ModelFormatException(path, $"calrec grounding settings: {ex.Message}", ex);
        }
    }

    public static IEnumerable<(string Component, int Version)> Save(string kind, IRecommenderScorer scorer, string stage)
    {
        switch (scorer)
        {
            case MostPopularScorer pop:
            {
                string dir = Directory.CreateDirectory(Path.Combine(stage, "mostpop")).FullName;
                using (TensorScope())
                {
                    SafeTensorsWriter.Save(Path.Combine(dir, "counts.safetensors"), [new("counts", Tensor.from(pop.Counts.ToArray(), pop.ItemCount))]);
                }

                return [("mostpop", MostPopularVersion)];
            }

            case SasRecScorer sas:
            {
                string dir = Directory.CreateDirectory(Path.Combine(stage, "sasrec")).FullName;
                SasRecNetwork net = sas.Model;
                var config = new JsonObject
                {
                    ["item_count"] = net.ItemCount,
                    ["hidden"] = net.Hidden,
                    ["blocks"] = net.Blocks.Count,
                    ["heads"] = net.Heads,
                    ["max_length"] = net.MaxLength,
                    ["dropout"] = net.Dropout,
                };
                File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
                SafeTensorsWriter.Save(Path.Combine(dir, "model.safetensors"), net.state_dict());
                return [("sasrec", SasRecVersion)];
            }

            case LlmSeqSimScorer sim:
            {
                string dir = Directory.CreateDirectory(Path.Combine(stage, "llmseqsim")).FullName;
                var config = new JsonObject { ["aggregation"] = sim.Aggregation.ToString(), ["max_history"] = sim.MaxHistory, ["dimension"] = sim.Dimension };
                File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
                using (TensorScope())
                {
                    SafeTensorsWriter.Save(Path.Combine(dir, "item_embeddings.safetensors"), [new("items", Tensor.from(sim.ItemEmbeddings, sim.ItemCount, sim.Dimension))]);
                }

                return [("llmseqsim", LlmSeqSimVersion)];
            }

            case CalRecScorer cal:
            {
                string dir = Directory.CreateDirectory(Path.Combine(stage, "calrec")).FullName;
                HuggingFaceCheckpoint.WriteFiles(cal.Backbone, cal.Tokenizer, Directory.CreateDirectory(Path.Combine(dir, "backbone")).FullName);
                CalRecSettings s = cal.Settings;
                var config = new JsonObject
                {
                    ["template"] = s.Template?.Source,
                    ["pooling"] = s.Pooling.ToString(),
                    ["max_history"] = s.MaxHistory,
                    ["max_item_tokens"] = s.MaxItemTokens,
                    ["max_history_tokens"] = s.MaxHistoryTokens,
                    ["dimension"] = cal.Dimension,
                };
                File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
                using (TensorScope())
                {
                    SafeTensorsWriter.Save(Path.Combine(dir, "item_index.safetensors"), [new("items", Tensor.from(cal.ItemEmbeddings, cal.ItemCount, cal.Dimension))]);
                    if (cal.Popularity is { } popularity)
                    {
                        SafeTensorsWriter.Save(Path.Combine(dir, "popularity.safetensors"), [new("counts", Tensor.from(popularity, popularity.Length))]);
                    }
                }

                return [("calrec", CalRecVersion)];
            }

            default:
                throw new NotSupportedException($"Model kind '{kind}' ({scorer.GetType().Name}) cannot be saved.");
        }
    }

    public static IRecommenderScorer Load(string kind, string stage, int itemCount, string path, IReadOnlyList<CatalogItem> catalog)
    {
        IRecommenderScorer scorer = kind switch
        {
            "mostpop" => new MostPopularScorer(ReadOne(Path.Combine(stage, "mostpop", "counts.safetensors"), "counts", path)),
            "sasrec" or "llm2sasrec" => LoadSasRec(Path.Combine(stage, "sasrec"), path),
            "llmseqsim" => LoadLlmSeqSim(Path.Combine(stage, "llmseqsim"), path),
            "calrec" => LoadCalRec(Path.Combine(stage, "calrec"), path, catalog),
            _ => throw new ModelFormatException(path, $"model kind '{kind}' is unknown to this version of CalRec.MLNet"),
        };
        return scorer.ItemCount == itemCount
            ? scorer
            : throw new ModelFormatException(path, $"the {kind} component scores {scorer.ItemCount} items but the catalogue has {itemCount}");
    }

    private static SasRecScorer LoadSasRec(string dir, string path)
    {
        JsonObject c = ReadConfig(dir, path);
        var net = new SasRecNetwork(Int(c, "item_count", path), Int(c, "hidden", path), Int(c, "blocks", path), Int(c, "heads", path), Int(c, "max_length", path),
            (float)(c["dropout"]?.GetValue<double>() ?? 0), seed: 0);
        using var reader = Open(Path.Combine(dir, "model.safetensors"), path);
        LoadStateDictResult result = net.load_state_dict(reader.ReadAll(), strict: false);
        if (result.MissingKeys.Count > 0 || result.UnexpectedKeys.Count > 0)
        {
            throw new ModelFormatException(path, $"sasrec weights do not match the config (missing: {string.Join(", ", result.MissingKeys.Take(3))}; unexpected: {string.Join(", ", result.UnexpectedKeys.Take(3))})");
        }

        net.eval();
        return new SasRecScorer(net);
    }

    private static LlmSeqSimScorer LoadLlmSeqSim(string dir, string path)
    {
        JsonObject c = ReadConfig(dir, path);
        if (!Enum.TryParse(c["aggregation"]?.GetValue<string>(), out SessionAggregation aggregation))
        {
            throw new ModelFormatException(path, $"llmseqsim/config.json: unknown aggregation '{c["aggregation"]}'");
        }

        return new LlmSeqSimScorer(ReadOne(Path.Combine(dir, "item_embeddings.safetensors"), "items", path), Int(c, "dimension", path), aggregation, Int(c, "max_history", path));
    }

    private static CalRecScorer LoadCalRec(string dir, string path, IReadOnlyList<CatalogItem> catalog)
    {
        JsonObject c = ReadConfig(dir, path);
        if (!Enum.TryParse(c["pooling"]?.GetValue<string>(), out Pooling pooling))
        {
            throw new ModelFormatException(path, $"calrec/config.json: unknown pooling '{c["pooling"]}'");
        }

        ItemTextTemplate? template;
        try
        {
            template = c["template"]?.GetValue<string>() is string t ? ItemTextTemplate.Parse(t) : null;
        }
        catch (FormatException ex)
        {
            throw new ModelFormatException(path, $"calrec/config.json: {ex.Message}", ex);
        }

        DecoderLM backbone;
        BpeTokenizer? tokenizer;
        try
        {
            (backbone, tokenizer) = HuggingFaceCheckpoint.Load(Path.Combine(dir, "backbone"));
        }
        catch (Exception ex) when (ex is FileNotFoundException or InvalidDataException or ArgumentException)
        {
            throw new ModelFormatException(path, $"calrec/backbone: {ex.Message}", ex);
        }

        if (tokenizer is null)
        {
            throw new ModelFormatException(path, "calrec/backbone has no tokenizer.json");
        }

        backbone.eval();
        var settings = new CalRecSettings(template, pooling, Int(c, "max_history", path), Int(c, "max_item_tokens", path), Int(c, "max_history_tokens", path));
        var table = new ItemTextTable(catalog, tokenizer, template, settings.MaxItemTokens);
        float[] items = ReadOne(Path.Combine(dir, "item_index.safetensors"), "items", path);
        if (items.Length != catalog.Count * backbone.Config.HiddenSize)
        {
            throw new ModelFormatException(path, $"calrec/item_index.safetensors holds {items.Length} values, not {catalog.Count} items x {backbone.Config.HiddenSize}");
        }

        string popularityFile = Path.Combine(dir, "popularity.safetensors");
        float[]? popularity = File.Exists(popularityFile) ? ReadOne(popularityFile, "counts", path) : null;
        if (popularity is not null && popularity.Length != catalog.Count)
        {
            throw new ModelFormatException(path, $"calrec/popularity.safetensors has {popularity.Length} counts for {catalog.Count} items");
        }

        return new CalRecScorer(backbone, tokenizer, table, settings, items, popularity);
    }

    private static JsonObject ReadConfig(string dir, string path)
    {
        string file = Path.Combine(dir, "config.json");
        return File.Exists(file) && JsonNode.Parse(File.ReadAllText(file)) is JsonObject o
            ? o
            : throw new ModelFormatException(path, $"missing or invalid {Path.GetFileName(dir)}/config.json");
    }

    private static int Int(JsonObject o, string key, string path) =>
        o[key]?.GetValue<int>() ?? throw new ModelFormatException(path, $"config has no '{key}'");

    private static float[] ReadOne(string file, string name, string path)
    {
        using SafeTensorsReader reader = Open(file, path);
        using (TensorScope())
        {
            return reader.Contains(name) ? reader.ReadTensor(name).ToArray() : throw new ModelFormatException(path, $"{Path.GetFileName(file)} has no tensor '{name}'");
        }
    }

    private static SafeTensorsReader Open(string file, string path)
    {
        try
        {
            return new SafeTensorsReader(file);
        }
        catch (Exception ex) when (ex is FileNotFoundException or InvalidDataException)
        {
            throw new ModelFormatException(path, $"{Path.GetFileName(file)}: {ex.Message}", ex);
        }
    }

    private static Tensors.Memory.TensorScope TensorScope() => Tensors.Memory.TensorScope.Begin();
}
