using System.Text.Json.Nodes;
using CalRec.Recommenders.Persistence;

namespace CalRec.Recommenders.LlmSeqSim;

/// <summary>Component <c>llmseqsim/</c>: <c>config.json</c> (aggregation, history length, dimension) and <c>item_embeddings.safetensors</c>.</summary>
internal sealed class LlmSeqSimSerializer : IModelComponentSerializer
{
    public string Component => LlmSeqSimTrainer.ModelKind;

    public int Version => 1;

    public IReadOnlyList<string> Kinds { get; } = [LlmSeqSimTrainer.ModelKind];

    public bool CanSave(RecommenderModel model) => model.Scorer is LlmSeqSimScorer;

    public void Save(RecommenderModel model, string folder)
    {
        var sim = (LlmSeqSimScorer)model.Scorer;
        ComponentFiles.WriteConfig(folder, new JsonObject { ["aggregation"] = sim.Aggregation.ToString(), ["max_history"] = sim.MaxHistory, ["dimension"] = sim.Dimension });
        ComponentFiles.WriteArray(Path.Combine(folder, "item_embeddings.safetensors"), "items", sim.ItemEmbeddings.ToArray(), sim.ItemCount, sim.Dimension);
    }

    public RecommenderModel Load(ModelComponentContext c)
    {
        JsonObject config = ComponentFiles.ReadConfig(c.Folder, c.ModelPath);
        if (!Enum.TryParse(config["aggregation"]?.GetValue<string>(), out SessionAggregation aggregation))
        {
            throw new ModelFormatException(c.ModelPath, $"llmseqsim/config.json: unknown aggregation '{config["aggregation"]}'");
        }

        float[] items = ComponentFiles.ReadArray(Path.Combine(c.Folder, "item_embeddings.safetensors"), "items", c.ModelPath);
        var scorer = new LlmSeqSimScorer(items, ComponentFiles.Int(config, "dimension", c.ModelPath), aggregation, ComponentFiles.Int(config, "max_history", c.ModelPath));
        return new RecommenderModel(c.Kind, scorer, c.Catalog, c.Training);
    }
}
