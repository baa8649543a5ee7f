using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using CalRec.Models.Checkpoints;
using CalRec.Models.Decoder;
using CalRec.Models.Embeddings;
using CalRec.Recommenders.Grounding;
using CalRec.Recommenders.Persistence;
using CalRec.Text.Retrieval;
using CalRec.Text.Templates;
using CalRec.Text.Tokenization;

namespace CalRec.Recommenders.CalRec;

/// <summary>
/// Component <c>calrec/</c>: <c>backbone/</c> (Hugging Face layout: config.json, model.safetensors, tokenizer.json),
/// <c>config.json</c> (template, pooling, history and item token budgets), <c>item_index.safetensors</c> (the item
/// tower over the catalogue), <c>popularity.safetensors</c>, <c>grounding.json</c> and <c>bm25.index</c>. A model of
/// several members keeps the first there and each further member k in <c>members/k/</c> (its <c>backbone/</c> and
/// <c>item_index.safetensors</c>; the settings and popularity are shared).
/// </summary>
internal sealed class CalRecSerializer : IModelComponentSerializer
{
    private static readonly JsonSerializerOptions GroundingJson = new() { WriteIndented = true, Converters = { new JsonStringEnumConverter() } };

    public string Component => CalRecTrainer.ModelKind;

    public int Version => 1;

    public IReadOnlyList<string> Kinds { get; } = [CalRecTrainer.ModelKind];

    public bool CanSave(RecommenderModel model) => model is CalRecModel;

    public void Save(RecommenderModel model, string folder)
    {
        var calrec = (CalRecModel)model;
        CalRecScorer cal = calrec.Towers;
        for (int k = 0; k < calrec.Members.Count; k++)
        {
            CalRecScorer member = calrec.Members[k];
            string dir = k == 0 ? folder : Directory.CreateDirectory(Path.Combine(folder, "members", k.ToString(System.Globalization.CultureInfo.InvariantCulture))).FullName;
            HuggingFaceCheckpoint.WriteFiles(member.Backbone, member.Tokenizer, Directory.CreateDirectory(Path.Combine(dir, "backbone")).FullName);
            ComponentFiles.WriteArray(Path.Combine(dir, "item_index.safetensors"), "items", member.ItemEmbeddings.ToArray(), member.ItemCount, member.Dimension);
        }

        CalRecSettings s = cal.Settings;
        ComponentFiles.WriteConfig(folder, new JsonObject
        {
            ["template"] = s.Template?.Source,
            ["pooling"] = s.Pooling.ToString(),
            ["max_history"] = s.MaxHistory,
            ["max_item_tokens"] = s.MaxItemTokens,
            ["max_history_tokens"] = s.MaxHistoryTokens,
            ["dimension"] = cal.Dimension,
            ["popularity_prior"] = cal.PopularityPrior,
            ["identity_token_base"] = s.IdentityTokenBase,
            ["identity_weight"] = cal.IdentityWeight,
            ["members"] = calrec.Members.Count,
        });
        if (cal.Popularity is { } popularity)
        {
            ComponentFiles.WriteArray(Path.Combine(folder, "popularity.safetensors"), "counts", popularity, popularity.Length);
        }

        File.WriteAllText(Path.Combine(folder, "grounding.json"), JsonSerializer.Serialize(calrec.Grounding, GroundingJson));
        Bm25Index index = calrec.Bm25 ?? GroundedScorer.BuildIndex(calrec, calrec.Grounding);
        using FileStream f = File.Create(Path.Combine(folder, "bm25.index"));
        index.Save(f);
    }

    public RecommenderModel Load(ModelComponentContext c)
    {
        string path = c.ModelPath, dir = c.Folder;
        IReadOnlyList<Data.CatalogItem> catalog = c.Catalog;
        JsonObject config = ComponentFiles.ReadConfig(dir, path);
        if (!Enum.TryParse(config["pooling"]?.GetValue<string>(), out Pooling pooling))
        {
            throw new ModelFormatException(path, $"calrec/config.json: unknown pooling '{config["pooling"]}'");
        }

        ItemTextTemplate? template;
        try
        {
            template = config["template"]?.GetValue<string>() is string t ? ItemTextTemplate.Parse(t) : null;
        }
        catch (FormatException ex)
        {
            throw new ModelFormatException(path, $"calrec/config.json: {ex.Message}", ex);
        }

        // Zips written before members existed hold one.
        int memberCount = config["members"]?.GetValue<int>() ?? 1;
        if (memberCount < 1)
        {
            throw new ModelFormatException(path, $"calrec/config.json: members {memberCount} must be at least 1");
        }

        var settings = new CalRecSettings(template, pooling, ComponentFiles.Int(config, "max_history", path), ComponentFiles.Int(config, "max_item_tokens", path),
            ComponentFiles.Int(config, "max_history_tokens", path));
        int? identityBase = config["identity_token_base"]?.GetValue<int>();
        settings = settings with { IdentityTokenBase = identityBase };
        var members = new List<(DecoderLM Backbone, ByteLevelBpeTokenizer Tokenizer, ItemTextTable Table, float[] Items)>(memberCount);
        for (int k = 0; k < memberCount; k++)
        {
            string memberDir = k == 0 ? dir : Path.Combine(dir, "members", k.ToString(System.Globalization.CultureInfo.InvariantCulture));
            string where = k == 0 ? "calrec/" : $"calrec/members/{k}/";
            members.Add(LoadMember(memberDir, where, path, catalog, template, settings));
        }

        string popularityFile = Path.Combine(dir, "popularity.safetensors");
        float[]? popularity = File.Exists(popularityFile) ? ComponentFiles.ReadArray(popularityFile, "counts", path) : null;
        if (popularity is not null && popularity.Length != catalog.Count)
        {
            throw new ModelFormatException(path, $"calrec/popularity.safetensors has {popularity.Length} counts for {catalog.Count} items");
        }

        // Zips written before the prior existed have none.
        float prior = config["popularity_prior"]?.GetValue<float>() ?? 0f;
        if (prior < 0f || !float.IsFinite(prior) || (prior > 0f && popularity is null))
        {
            throw new ModelFormatException(path, $"calrec/config.json: popularity_prior {prior} needs to be 0 or more, with popularity.safetensors beside it");
        }

        float identityWeight = config["identity_weight"]?.GetValue<float>() ?? 0f;
        if (identityWeight < 0f || !float.IsFinite(identityWeight) || (identityWeight > 0f && identityBase is null))
        {
            throw new ModelFormatException(path, $"calrec/config.json: identity_weight {identityWeight} needs to be 0 or more, with identity_token_base set");
        }

        var scorers = members.Select(m => new CalRecScorer(m.Backbone, m.Tokenizer, m.Table, settings, m.Items, popularity, prior, identityWeight)).ToList();
        (GroundingOptions grounding, Bm25Index? bm25) = LoadGrounding(dir, path, catalog.Count);
        return new CalRecModel(scorers, catalog, c.Training, grounding) { Bm25 = bm25 };
    }

    /// <summary>One member's backbone (with its tokenizer), item text table and item index, checked against the settings.</summary>
    private static (DecoderLM Backbone, ByteLevelBpeTokenizer Tokenizer, ItemTextTable Table, float[] Items) LoadMember(string dir, string where, string path,
        IReadOnlyList<Data.CatalogItem> catalog, ItemTextTemplate? template, CalRecSettings settings)
    {
        DecoderLM backbone;
        ByteLevelBpeTokenizer? tokenizer;
        try
        {
            (backbone, tokenizer) = HuggingFaceCheckpoint.Load(Path.Combine(dir, "backbone"));
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException or InvalidDataException or ArgumentException)
        {
            throw new ModelFormatException(path, $"{where}backbone: {ex.Message}", ex);
        }

        if (tokenizer is null)
        {
            throw new ModelFormatException(path, $"{where}backbone has no tokenizer.json");
        }

        backbone.eval();
        // Zips written before the item-ID hybrid have no identity tokens.
        if (settings.IdentityTokenBase is int b && (b < tokenizer.VocabularySize || b + catalog.Count != backbone.Config.VocabSize))
        {
            throw new ModelFormatException(path, $"calrec/config.json: identity_token_base {b} with {catalog.Count} items does not fit {where}backbone's {backbone.Config.VocabSize} ids after the tokenizer's {tokenizer.VocabularySize}");
        }

        var table = new ItemTextTable(catalog, tokenizer, template, settings.MaxItemTokens, settings.IdentityTokenBase);
        float[] items = ComponentFiles.ReadArray(Path.Combine(dir, "item_index.safetensors"), "items", path);
        if (items.Length != catalog.Count * backbone.Config.HiddenSize)
        {
            throw new ModelFormatException(path, $"{where}item_index.safetensors holds {items.Length} values, not {catalog.Count} items x {backbone.Config.HiddenSize}");
        }

        return (backbone, tokenizer, table, items);
    }

    /// <summary>Reads the grounding settings and BM25 index (zips written before they existed keep the defaults).</summary>
    private static (GroundingOptions Options, Bm25Index? Index) LoadGrounding(string dir, string path, int itemCount)
    {
        string json = Path.Combine(dir, "grounding.json"), bm25 = Path.Combine(dir, "bm25.index");
        try
        {
            GroundingOptions options = File.Exists(json) ? JsonSerializer.Deserialize<GroundingOptions>(File.ReadAllText(json), GroundingJson) ?? new() : new();
            if (!File.Exists(bm25))
            {
                return (options, null);
            }

            using FileStream f = File.OpenRead(bm25);
            Bm25Index index = Bm25Index.Load(f, $"{path}: calrec/bm25.index");
            return index.Count == itemCount
                ? (options, index)
                : throw new ModelFormatException(path, $"calrec/bm25.index holds {index.Count} documents for {itemCount} items");
        }
        catch (Exception ex) when (ex is JsonException or InvalidDataException)
        {
            throw new ModelFormatException(path, $"calrec grounding settings: {ex.Message}", ex);
        }
    }
}
