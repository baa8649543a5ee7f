using System.Text.Json.Nodes;
using CalRec.Recommenders.Persistence;
using CalRec.Tensors.NN;

namespace CalRec.Recommenders.SasRec;

/// <summary>
/// Component <c>sasrec/</c> (SASRec and LLM2SASRec): <c>config.json</c> (item count, hidden size, blocks, heads,
/// maximum length, dropout) and <c>model.safetensors</c> with the network's parameter names.
/// </summary>
internal sealed class SasRecSerializer : IModelComponentSerializer
{
    public string Component => SasRecTrainer.ModelKind;

    public int Version => 1;

    public IReadOnlyList<string> Kinds { get; } = [SasRecTrainer.ModelKind, SasRecTrainer.Llm2SasRecModelKind];

    public bool CanSave(RecommenderModel model) => model.Scorer is SasRecScorer;

    public void Save(RecommenderModel model, string folder)
    {
        SasRecNetwork net = ((SasRecScorer)model.Scorer).Model;
        ComponentFiles.WriteConfig(folder, new JsonObject
        {
            ["item_count"] = net.ItemCount,
            ["hidden"] = net.Hidden,
            ["blocks"] = net.Blocks.Count,
            ["heads"] = net.Heads,
            ["max_length"] = net.MaxLength,
            ["dropout"] = net.Dropout,
        });
        Tensors.Serialization.SafeTensorsWriter.Save(Path.Combine(folder, "model.safetensors"), net.state_dict());
    }

    public RecommenderModel Load(ModelComponentContext c)
    {
        string path = c.ModelPath;
        JsonObject config = ComponentFiles.ReadConfig(c.Folder, path);
        var net = new SasRecNetwork(ComponentFiles.Int(config, "item_count", path), ComponentFiles.Int(config, "hidden", path), ComponentFiles.Int(config, "blocks", path),
            ComponentFiles.Int(config, "heads", path), ComponentFiles.Int(config, "max_length", path), (float)(config["dropout"]?.GetValue<double>() ?? 0), seed: 0);
        using var reader = ComponentFiles.Open(Path.Combine(c.Folder, "model.safetensors"), path);
        LoadStateDictResult result = net.load_state_dict(reader.ReadAll(), strict: false);
        if (result.MissingKeys.Count > 0 || result.UnexpectedKeys.Count > 0)
        {
            throw new ModelFormatException(path, $"sasrec weights do not match the config (missing: {string.Join(", ", result.MissingKeys.Take(3))}; unexpected: {string.Join(", ", result.UnexpectedKeys.Take(3))})");
        }

        net.eval();
        return new RecommenderModel(c.Kind, new SasRecScorer(net), c.Catalog, c.Training);
    }
}
