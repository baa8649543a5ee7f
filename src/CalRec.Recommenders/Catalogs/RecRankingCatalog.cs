using CalRec.Data;
using CalRec.Data.Splits;
using CalRec.Recommenders.Evaluation;

namespace CalRec.Recommenders.Catalogs;

/// <summary>Evaluation operations of a <see cref="RecContext"/>.</summary>
public sealed class RecRankingCatalog
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
    public IReadOnlyList<EvaluationCase> TestCases(RecommenderModel model, InteractionDataset data) => Mapped(model, data, new LeaveOneOutSplit(data).Test, "test");

    /// <summary>The validation cases of <paramref name="data"/> with item indices mapped onto <paramref name="model"/>'s catalogue.</summary>
    public IReadOnlyList<EvaluationCase> ValidationCases(RecommenderModel model, InteractionDataset data) => Mapped(model, data, new LeaveOneOutSplit(data).Validation, "validation");

    private List<EvaluationCase> Mapped(RecommenderModel model, InteractionDataset data, IReadOnlyList<EvaluationCase> cases, string part)
    {
        bool same = data.ItemCount == model.ItemCount && Enumerable.Range(0, data.ItemCount).All(i => data.Items[i].Id == model.Catalog[i].Id);
        if (same)
        {
            return [.. cases];
        }

        int[] map = data.Items.Select(item => model.IndexOf(item.Id) ?? -1).ToArray();
        var mapped = new List<EvaluationCase>(cases.Count);
        foreach (EvaluationCase c in cases)
        {
            if (map[c.Target] >= 0 && c.History.All(i => map[i] >= 0))
            {
                mapped.Add(new EvaluationCase(c.User, c.History.Select(i => map[i]).ToArray(), map[c.Target]));
            }
        }

        if (mapped.Count == 0 && cases.Count > 0)
        {
            throw new ArgumentException($"None of the {cases.Count:N0} {part} users of '{data.Name}' can be evaluated: their items are not in the model's catalogue (trained on '{model.Training.Dataset}').");
        }

        if (mapped.Count < cases.Count)
        {
            _context.Report("evaluate", $"{cases.Count - mapped.Count:N0} of {cases.Count:N0} {part} users left out: their items are not in the model's catalogue");
        }

        return mapped;
    }
}
