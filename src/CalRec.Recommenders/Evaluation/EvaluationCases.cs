using CalRec.Data;
using CalRec.Data.Splits;

namespace CalRec.Recommenders.Evaluation;

/// <summary>
/// The leave-one-out evaluation cases of a dataset expressed in a model's catalogue. Items are matched by id, so the
/// dataset may be read from another file or format than the training data; users whose history or target is not in
/// the model's catalogue are left out (and counted in a message).
/// </summary>
public static class EvaluationCases
{
    /// <summary>The test cases of <paramref name="data"/> (each user's last item) in <paramref name="model"/>'s item indices.</summary>
    /// <param name="model">The model whose catalogue the cases are expressed in.</param>
    /// <param name="data">The dataset whose leave-one-out split gives the cases.</param>
    /// <param name="log">Receives a message when users are left out.</param>
    public static IReadOnlyList<EvaluationCase> Test(RecommenderModel model, InteractionDataset data, Action<string>? log = null) =>
        Mapped(model, data, new LeaveOneOutSplit(data).Test, "test", log);

    /// <summary>The validation cases of <paramref name="data"/> (each user's second-to-last item) in <paramref name="model"/>'s item indices.</summary>
    /// <param name="model">The model whose catalogue the cases are expressed in.</param>
    /// <param name="data">The dataset whose leave-one-out split gives the cases.</param>
    /// <param name="log">Receives a message when users are left out.</param>
    public static IReadOnlyList<EvaluationCase> Validation(RecommenderModel model, InteractionDataset data, Action<string>? log = null) =>
        Mapped(model, data, new LeaveOneOutSplit(data).Validation, "validation", log);

    private static List<EvaluationCase> Mapped(RecommenderModel model, InteractionDataset data, IReadOnlyList<EvaluationCase> cases, string part, Action<string>? log)
    {
        ArgumentNullException.ThrowIfNull(model);
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
            log?.Invoke($"{cases.Count - mapped.Count:N0} of {cases.Count:N0} {part} users left out: their items are not in the model's catalogue");
        }

        return mapped;
    }
}
