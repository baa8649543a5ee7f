using CalRec.Data.Normalized;
using CalRec.Grounding;
using CalRec.Text.Retrieval;
using CalRec.Models.Decoder;
using CalRec.Text.Tokenization;
using CalRec.TwoTower;

namespace CalRec.Prediction;

/// <summary>
/// A fitted CALRec model: the finetuned decoder shared by the user and item towers, its tokenizer, the item-tower index
/// of the catalogue, and the serialization settings. <see cref="RecommenderModel.Transform"/> retrieves densely (user
/// tower vs item index). Saved by <see cref="Catalogs.ModelOperationsCatalog.Save"/> with the backbone in Hugging Face
/// layout.
/// </summary>
public sealed class CalRecModel : RecommenderModel
{
    internal CalRecModel(CalRecScorer scorer, IReadOnlyList<CatalogItem> catalog, TrainingInfo training)
        : base("calrec", scorer, catalog, training) => Towers = scorer;

    /// <summary>The two towers and the item index.</summary>
    public CalRecScorer Towers { get; }

    /// <summary>The finetuned decoder.</summary>
    public DecoderLM Backbone => Towers.Backbone;

    /// <summary>The decoder's tokenizer.</summary>
    public BpeTokenizer Tokenizer => Towers.Tokenizer;

    /// <summary>How items and histories are serialized and pooled.</summary>
    public CalRecSettings Settings => Towers.Settings;

    /// <summary>The grounding settings saved with the model (path, candidates, γ, fusion weights).</summary>
    public GroundingOptions Grounding { get; set; } = new();

    /// <summary>The BM25 index over the item texts, built on first use or loaded with the model.</summary>
    internal Bm25Index? Bm25 { get; set; }
}
