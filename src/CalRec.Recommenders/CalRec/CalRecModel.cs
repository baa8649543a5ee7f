using CalRec.Data;
using CalRec.Models.Decoder;
using CalRec.Recommenders.Catalogs;
using CalRec.Recommenders.Grounding;
using CalRec.Text.Retrieval;
using CalRec.Text.Tokenization;

namespace CalRec.Recommenders.CalRec;

/// <summary>
/// A fitted CALRec model: the finetuned decoder shared by the user and item towers, its tokenizer, the item-tower index
/// of the catalogue, and the serialization settings. <see cref="RecommenderModel.Transform"/> retrieves densely (user
/// tower vs item index). Saved by <see cref="RecModelCatalog.Save"/> with the backbone in Hugging Face
/// layout.
/// </summary>
public sealed class CalRecModel : RecommenderModel
{
    internal CalRecModel(CalRecScorer scorer, IReadOnlyList<CatalogItem> catalog, TrainingInfo training, GroundingOptions? grounding = null)
        : base(CalRecTrainer.ModelKind, scorer, catalog, training)
    {
        Towers = scorer;
        Grounding = grounding ?? new GroundingOptions();
    }

    /// <summary>The two towers and the item index.</summary>
    public CalRecScorer Towers { get; }

    /// <summary>The finetuned decoder.</summary>
    public DecoderLM Backbone => Towers.Backbone;

    /// <summary>The decoder's tokenizer.</summary>
    public ByteLevelBpeTokenizer Tokenizer => Towers.Tokenizer;

    /// <summary>How items and histories are serialized and pooled.</summary>
    public CalRecSettings Settings => Towers.Settings;

    /// <summary>The grounding settings saved with the model (path, candidates, γ, fusion weights).</summary>
    public GroundingOptions Grounding { get; }

    /// <summary>The BM25 index over the item texts: loaded with the model, or built on first use and then cached.</summary>
    internal Bm25Index? Bm25 { get; set; }

    /// <summary>
    /// The same fitted model with other grounding settings (for example tuned on validation users); this model is left
    /// as it is. The BM25 index is shared while its parameters are the same.
    /// </summary>
    public CalRecModel WithGrounding(GroundingOptions grounding) => new(Towers, Catalog, Training, grounding)
    {
        Bm25 = Bm25 is { } index && index.K1 == grounding.Bm25K1 && index.B == grounding.Bm25B ? index : null,
    };
}
