using CalRec.Data;
using CalRec.MLNet.Tables;
using CalRec.Recommenders;
using Microsoft.ML;
using Microsoft.ML.Data;
using CalRec.MLNet.Persistence;
using Microsoft.ML.Runtime;

namespace CalRec.MLNet;

/// <summary>
/// A sequential recommender trainer as an ML.NET estimator. <see cref="Fit(IDataView)"/> reads an interactions table
/// (see <see cref="SequentialRecommenderOptions"/>), groups it per user, and trains with the library's protocol: each
/// user's last item is held out for testing and never trained on (score those users with
/// <c>mlContext.SequentialRecommendation().Data.LeaveOneOutTestSet</c>), the one before it selects the model, the rest
/// is training data (with <see cref="SequentialRecommenderOptions.HoldOutTestItem"/> false, a production model: the last
/// item selects the model and everything before it trains). Progress goes to <c>MLContext.Log</c>. Get estimators from
/// <c>mlContext.SequentialRecommendation().Trainers</c>.
/// </summary>
public sealed class SequentialRecommenderEstimator : IEstimator<SequentialRecommendationTransformer>
{
    private readonly MLContext _mlContext;
    private readonly SequentialRecommenderOptions _options;
    private readonly Func<RecContext, InteractionDataset, CancellationToken, RecommenderModel> _fit;

    internal SequentialRecommenderEstimator(MLContext mlContext, string name, SequentialRecommenderOptions options,
        Func<RecContext, InteractionDataset, CancellationToken, RecommenderModel> fit)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _mlContext = mlContext;
        Name = name;
        _options = options;
        _fit = fit;
    }

    /// <summary>The recommender's name (<c>MostPopular</c>, <c>SasRec</c>, ...), also the source of its log messages.</summary>
    public string Name { get; }

    /// <summary>Trains on <paramref name="input"/>, an interactions table.</summary>
    public SequentialRecommendationTransformer Fit(IDataView input) => Fit(input, CancellationToken.None);

    /// <summary>Trains on <paramref name="input"/>; <paramref name="cancellation"/> stops training early (the call then throws <see cref="OperationCanceledException"/>).</summary>
    public SequentialRecommendationTransformer Fit(IDataView input, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(input);
        InteractionDataset data = InteractionTable.Read(input, _options);
        int needed = _options.HoldOutTestItem ? 3 : 2;
        if (!data.Sequences.Any(s => s.Length >= needed))
        {
            throw new InvalidDataException($"interactions table: none of its {data.Users.Count:N0} users has {needed} or more interactions, so there is nothing to "
                + (_options.HoldOutTestItem ? "train, validate and test on (each user's last item is held out for testing, the one before it validates; set HoldOutTestItem = false for a production model)." : "train and validate on."));
        }

        var context = new RecContext();
        using IChannel channel = ((IHostEnvironment)_mlContext).Start(Name);
        context.Log += (_, e) => channel.Info(MessageSensitivity.None, "{0}", $"{e.Source}: {e.Message}");
        RecommenderModel model = _fit(context, data, cancellation);
        return new SequentialRecommendationTransformer(_mlContext, model, _options.OutputColumns());
    }

    /// <summary>
    /// The schema of the fitted transformer's output on an interactions table with <paramref name="inputSchema"/>'s
    /// columns: one row per user with the user id, the history and the two output columns. A missing or mistyped column
    /// is an <see cref="ArgumentOutOfRangeException"/> naming it and the type expected.
    /// </summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        var input = new DataViewSchema.Builder();
        foreach (SchemaShape.Column c in inputSchema)
        {
            input.AddColumn(c.Name, c.Kind == SchemaShape.Column.VectorKind.Scalar ? c.ItemType : new VectorDataViewType((PrimitiveDataViewType)c.ItemType));
        }

        DataViewSchema schema = input.ToSchema();
        InteractionTable.Columns(schema, _options.UserIdColumnName, _options.ItemIdColumnName, _options.TimestampColumnName, _options.RatingColumnName, _options.DomainColumnName);
        // SchemaShape's columns can only be made inside ML.NET; a custom mapping's estimator computes them from a row type.
        RecommendationColumns columns = _options.OutputColumns();
        var definition = SchemaDefinition.Create(typeof(GroupedOutputRow));
        definition[nameof(GroupedOutputRow.UserId)].ColumnName = columns.UserIdColumnName;
        definition[nameof(GroupedOutputRow.History)].ColumnName = columns.HistoryColumnName;
        definition[nameof(GroupedOutputRow.PredictedItemIds)].ColumnName = columns.PredictedItemIdsColumnName;
        definition[nameof(GroupedOutputRow.Scores)].ColumnName = columns.ScoresColumnName;
        return _mlContext.Transforms.CustomMapping<PlaceholderRow, GroupedOutputRow>((_, _) => { }, contractName: null, outputSchemaDefinition: definition)
            .GetOutputSchema(new SchemaShape([]));
    }
}

/// <summary>The output row of a recommender applied to an interactions table (one row per user).</summary>
public sealed class GroupedOutputRow
{
    /// <summary>The user.</summary>
    public string UserId { get; set; } = "";

    /// <summary>The user's items, oldest first.</summary>
    public string[] History { get; set; } = [];

    /// <summary>Recommended item ids, best first.</summary>
    public string[] PredictedItemIds { get; set; } = [];

    /// <summary>Their scores.</summary>
    public float[] Scores { get; set; } = [];
}
