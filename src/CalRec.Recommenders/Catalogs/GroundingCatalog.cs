using System.Globalization;
using CalRec.Data.Splits;
using CalRec.Recommenders.CalRec;
using CalRec.Recommenders.Grounding;

namespace CalRec.Recommenders.Catalogs;

/// <summary>
/// Grounding of a CALRec model's output in the real catalogue: dense retrieval, BM25 quasi-round-robin over generated
/// texts, BIGRec embedding grounding with popularity re-weighting, trie-constrained generation, and their fusion, plus
/// choosing γ and the fusion weights on validation users.
/// </summary>
internal sealed class GroundingCatalog
{
    private readonly RecContext _context;

    internal GroundingCatalog(RecContext context) => _context = context;

    /// <summary>
    /// A scorer ranking along <paramref name="options"/>' path (default: dense retrieval). <paramref name="popularity"/>
    /// (per-item training counts) replaces the counts saved with the model for re-weighting; a
    /// <paramref name="collaborative"/> model (for example SASRec trained on the same data) makes its scores for the user
    /// the re-weighting signal instead (items matched by id). An <paramref name="embedder"/> (a backbone of the model's
    /// tokenizer such as the base, stage-0 one, or a pretrained text encoder such as MiniLM) embeds the generated and item
    /// texts for embedding grounding in place of the finetuned backbone.
    /// </summary>
    public GroundedScorer Create(CalRecModel model, GroundingOptions? options = null, float[]? popularity = null, RecommenderModel? collaborative = null,
        GroundingEmbedder? embedder = null) =>
        new(model, options ?? new GroundingOptions(), popularity: popularity, collaborative: collaborative, embedder: embedder);

    /// <summary>Training-split interaction counts of <paramref name="split"/>'s items, mapped onto the model's catalogue by id.</summary>
    public static float[] Popularity(RecommenderModel model, LeaveOneOutSplit split) => GroundedScorer.TrainingPopularity(model, split);

    /// <summary>
    /// Chooses γ (embedding path) and the fusion weights of the dense, BM25, embedding and constrained-generation lists by NDCG@10 on a seeded
    /// sample of <paramref name="split"/>'s validation users (never its test targets); returns tuned options.
    /// </summary>
    public GroundingOptions Tune(CalRecModel model, LeaveOneOutSplit split, GroundingOptions? options = null, int validationUsers = GroundingTuner.DefaultValidationUsers, CancellationToken cancellation = default) =>
        Tune(model, split.Validation, options, validationUsers, null, cancellation: cancellation);

    /// <summary>
    /// Like the split overload, on given validation cases (item indices of the model's catalogue), with optional
    /// <paramref name="popularity"/> counts replacing the model's own, or a <paramref name="collaborative"/> model whose
    /// scores become the re-weighting signal (γ is then tuned for it, and the returned settings say so), and an optional
    /// <paramref name="embedder"/> as in <see cref="Create"/>.
    /// </summary>
    public GroundingOptions Tune(CalRecModel model, IReadOnlyList<EvaluationCase> validation, GroundingOptions? options, int validationUsers, float[]? popularity,
        RecommenderModel? collaborative = null, GroundingEmbedder? embedder = null, CancellationToken cancellation = default) =>
        GroundingTuner.Tune(model, validation, options, validationUsers, popularity, collaborative, embedder, message => _context.Report("grounding", message), cancellation);
}
