using CalRec.Data;
using CalRec.Data.Splits;
using CalRec.MLNet.Tables;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace CalRec.MLNet;

/// <summary>One evaluation case: a user's history and the next item they picked.</summary>
public sealed class EvaluationRow
{
    /// <summary>The user.</summary>
    public string UserId { get; set; } = "";

    /// <summary>Item ids before the held-out one, oldest first.</summary>
    public string[] History { get; set; } = [];

    /// <summary>The held-out next item.</summary>
    public string Label { get; set; } = "";
}

/// <summary>History and evaluation tables made from interactions tables (<c>mlContext.SequentialRecommendation().Data</c>).</summary>
public sealed class SequentialRecommendationData
{
    private readonly MLContext _mlContext;

    internal SequentialRecommendationData(MLContext mlContext) => _mlContext = mlContext;

    /// <summary>
    /// One row per user (<c>UserId</c>, <c>History</c> under <paramref name="options"/>' names) with every interaction,
    /// oldest first: the table to score for "what next" in production.
    /// </summary>
    public IDataView Histories(IDataView interactions, SequentialRecommenderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(interactions);
        return HistoryTable.FromInteractions(_mlContext, interactions, (options ?? new MostPopularEstimatorOptions()).OutputColumns());
    }

    /// <summary>
    /// The leave-one-out test cases a trainer fitted on <paramref name="interactions"/> never saw: for each user with at
    /// least three interactions, the history without the last item and that item as <c>Label</c>. Read with the same
    /// <paramref name="options"/> as the trainer (columns, catalogue, rating filter); <paramref name="domain"/> keeps
    /// the interactions of one domain, as CALRec's <c>TargetDomain</c> does.
    /// </summary>
    public IDataView LeaveOneOutTestSet(IDataView interactions, SequentialRecommenderOptions? options = null, string? domain = null) =>
        Cases(interactions, options, domain, validation: false);

    /// <summary>The leave-one-out validation cases (history without the last two items, the second to last as <c>Label</c>).</summary>
    public IDataView LeaveOneOutValidationSet(IDataView interactions, SequentialRecommenderOptions? options = null, string? domain = null) =>
        Cases(interactions, options, domain, validation: true);

    private IDataView Cases(IDataView interactions, SequentialRecommenderOptions? options, string? domain, bool validation)
    {
        ArgumentNullException.ThrowIfNull(interactions);
        options ??= new MostPopularEstimatorOptions();
        options.Validate();
        InteractionDataset data = InteractionTable.Read(interactions, options);
        if (domain is not null)
        {
            data = SequentialRecommendationTrainers.TargetAndMixture(data, domain).Target;
        }

        var split = new LeaveOneOutSplit(data);
        var rows = (validation ? split.Validation : split.Test).Select(c => new EvaluationRow
        {
            UserId = data.Users[c.User],
            History = c.History.Select(i => data.Items[i].Id).ToArray(),
            Label = data.Items[c.Target].Id,
        }).ToList();
        SchemaDefinition schema = SchemaDefinition.Create(typeof(EvaluationRow));
        schema[nameof(EvaluationRow.UserId)].ColumnName = options.UserIdColumnName;
        schema[nameof(EvaluationRow.History)].ColumnName = options.HistoryColumnName;
        return _mlContext.Data.LoadFromEnumerable(rows, schema);
    }
}
