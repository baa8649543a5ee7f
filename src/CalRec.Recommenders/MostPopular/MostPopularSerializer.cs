using CalRec.Recommenders.Persistence;

namespace CalRec.Recommenders.MostPopular;

/// <summary>Component <c>mostpop/</c>: <c>counts.safetensors</c> (training-split occurrences per item).</summary>
internal sealed class MostPopularSerializer : IModelComponentSerializer
{
    public string Component => MostPopularTrainer.ModelKind;

    public int Version => 1;

    public IReadOnlyList<string> Kinds { get; } = [MostPopularTrainer.ModelKind];

    public bool CanSave(RecommenderModel model) => model.Scorer is MostPopularScorer;

    public void Save(RecommenderModel model, string folder)
    {
        var pop = (MostPopularScorer)model.Scorer;
        ComponentFiles.WriteArray(Path.Combine(folder, "counts.safetensors"), "counts", [.. pop.Counts], pop.ItemCount);
    }

    public RecommenderModel Load(ModelComponentContext c) =>
        new(c.Kind, new MostPopularScorer(ComponentFiles.ReadArray(Path.Combine(c.Folder, "counts.safetensors"), "counts", c.ModelPath)), c.Catalog, c.Training);
}
