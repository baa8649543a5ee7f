using CalRec.Data;
using CalRec.Data.Splits;
using CalRec.Recommenders.Evaluation;

namespace CalRec.Recommenders.Catalogs;

/// <summary>Evaluation operations of a <see cref="RecContext"/>.</summary>
internal sealed class RecRankingCatalog
{
    private readonly RecContext _context;

    internal RecRankingCatalog(RecContext context) => _context = context;

    /// <summary>
    /// Evaluates <paramref name="model"/> on the leave-one-out test cases of <paramref name="data"/> (full ranking, seen
    /// items excluded unless <paramref name="options"/> say otherwise). Items are matched by id, so the dataset may be
    /// read from another file or format than the training data; users whose history or target is not in the model's
    /// catalogue are left out and reported through <see cref="RecContext.Log"/>.
    /// </summary>
    public RecommendationMetrics Evaluate(RecommenderModel model, InteractionDataset data, RecommendationEvaluatorOptions? options = null) =>
        RecommendationEvaluator.Evaluate(model, TestCases(model, data), options);

    /// <summary>
    /// Like <see cref="Evaluate"/>, then broken down by the domain of each case's target item (the model catalogue's
    /// domain tag, or the dataset name).
    /// </summary>
    public IReadOnlyList<(string Domain, RecommendationMetrics Metrics)> EvaluateByDomain(RecommenderModel model, InteractionDataset data, RecommendationEvaluatorOptions? options = null)
    {
        IReadOnlyList<EvaluationCase> cases = TestCases(model, data);
        return RecommendationEvaluator.Evaluate(model, cases, options).BreakDown(i => model.Catalog[cases[i].Target].Domain ?? data.Name);
    }

    /// <summary>The test cases of <paramref name="data"/> with item indices mapped onto <paramref name="model"/>'s catalogue.</summary>
    public IReadOnlyList<EvaluationCase> TestCases(RecommenderModel model, InteractionDataset data) => EvaluationCases.Test(model, data, m => _context.Report("evaluate", m));

    /// <summary>The validation cases of <paramref name="data"/> with item indices mapped onto <paramref name="model"/>'s catalogue.</summary>
    public IReadOnlyList<EvaluationCase> ValidationCases(RecommenderModel model, InteractionDataset data) => EvaluationCases.Validation(model, data, m => _context.Report("evaluate", m));
}
