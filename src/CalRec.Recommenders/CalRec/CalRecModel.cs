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
/// tower vs item index). A model trained as several members (<see cref="CalRecTrainer.Options.Members"/>) scores with
/// the mean of their dense scores; generation-based grounding uses the first member. Saved by
/// <see cref="RecModelCatalog.Save"/> with the backbones in Hugging Face layout.
/// </summary>
public sealed class CalRecModel : RecommenderModel
{
    internal CalRecModel(CalRecScorer scorer, IReadOnlyList<CatalogItem> catalog, TrainingInfo training, GroundingOptions? grounding = null)
        : this([scorer], catalog, training, grounding)
    {
    }

    internal CalRecModel(IReadOnlyList<CalRecScorer> members, IReadOnlyList<CatalogItem> catalog, TrainingInfo training, GroundingOptions? grounding = null)
        : base(CalRecTrainer.ModelKind, members.Count == 1 ? members[0] : new CalRecEnsemble(members), catalog, training)
    {
        Members = members;
        Grounding = grounding ?? new GroundingOptions();
    }

    /// <summary>The two towers and the item index (of the first member when there are several).</summary>
    public CalRecScorer Towers => Members[0];

    /// <summary>The independently trained members whose dense scores the model averages (one for a single model).</summary>
    public IReadOnlyList<CalRecScorer> Members { get; }

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

    /// <summary>The same model whose dense scores add <paramref name="weight"/>·ln(1 + training count) per item.</summary>
    public CalRecModel WithPopularityPrior(float weight) => new(Members.Select(m => m.WithPopularityPrior(weight)).ToList(), Catalog, Training, Grounding) { Bm25 = Bm25 };

    /// <summary>
    /// Chooses the popularity prior w (<see cref="CalRecScorer.PopularityPrior"/>) from <paramref name="grid"/> (default
    /// 0, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16) by NDCG@10 on <paramref name="validation"/> (validation cases only, never test
    /// targets); ties keep the smaller w. Returns the model with it and each candidate's NDCG@10.
    /// </summary>
    public (CalRecModel Model, IReadOnlyList<(float Weight, double Ndcg10)> Candidates) TunePopularityPrior(IReadOnlyList<Data.Splits.EvaluationCase> validation,
        IReadOnlyList<float>? grid = null)
    {
        ArgumentNullException.ThrowIfNull(validation);
        if (Towers.Popularity is null)
        {
            throw new InvalidDataException("This CALRec model carries no training popularity (saved before it was stored), so it has no popularity prior to tune: retrain it.");
        }

        return Tune(validation, grid ?? [0f, 0.005f, 0.01f, 0.02f, 0.04f, 0.08f, 0.16f], WithPopularityPrior);
    }

    /// <summary>The same model whose scores add <paramref name="weight"/> times the identity head's logits (<see cref="CalRecScorer.IdentityWeight"/>).</summary>
    public CalRecModel WithIdentityWeight(float weight) => new(Members.Select(m => m.WithIdentityWeight(weight)).ToList(), Catalog, Training, Grounding) { Bm25 = Bm25 };

    /// <summary>
    /// Chooses the identity head's weight λ (<see cref="CalRecScorer.IdentityWeight"/>; item-ID hybrid models only) from
    /// <paramref name="grid"/> (default 0, 0.0125, 0.025, 0.05, 0.1, 0.2, 0.4, 100 — the last is the identity head alone
    /// in effect) by NDCG@10 on <paramref name="validation"/> (validation cases only); ties keep the earlier value of the
    /// grid. Training keeps λ = τ unless 0 validates better; a few hundred validation users are a noisy guide to others.
    /// </summary>
    public (CalRecModel Model, IReadOnlyList<(float Weight, double Ndcg10)> Candidates) TuneIdentityWeight(IReadOnlyList<Data.Splits.EvaluationCase> validation,
        IReadOnlyList<float>? grid = null)
    {
        ArgumentNullException.ThrowIfNull(validation);
        if (Settings.IdentityTokenBase is null)
        {
            throw new NotSupportedException("This CALRec model has no item identity tokens (train it with ItemIdentityTokens, --item-ids true) to weigh.");
        }

        return Tune(validation, grid ?? [0f, 0.0125f, 0.025f, 0.05f, 0.1f, 0.2f, 0.4f, 100f], WithIdentityWeight);
    }

    private (CalRecModel Model, IReadOnlyList<(float Weight, double Ndcg10)> Candidates) Tune(IReadOnlyList<Data.Splits.EvaluationCase> validation, IReadOnlyList<float> grid,
        Func<float, CalRecModel> with)
    {
        var candidates = new List<(float, double)>();
        CalRecModel best = this;
        double bestNdcg = double.NegativeInfinity;
        foreach (float w in grid)
        {
            CalRecModel m = with(w);
            double ndcg = Evaluation.RecommendationEvaluator.Evaluate(m, validation, new Evaluation.RecommendationEvaluatorOptions { Ks = [10], BootstrapSamples = 0 })["ndcg@10"].Value;
            candidates.Add((w, ndcg));
            if (ndcg > bestNdcg)
            {
                (best, bestNdcg) = (m, ndcg);
            }
        }

        return (best, candidates);
    }

    /// <summary>
    /// The same fitted model with other grounding settings (for example tuned on validation users); this model is left
    /// as it is. The BM25 index is shared while its parameters are the same.
    /// </summary>
    public CalRecModel WithGrounding(GroundingOptions grounding) => new(Members, Catalog, Training, grounding)
    {
        Bm25 = Bm25 is { } index && index.K1 == grounding.Bm25K1 && index.B == grounding.Bm25B ? index : null,
    };
}
