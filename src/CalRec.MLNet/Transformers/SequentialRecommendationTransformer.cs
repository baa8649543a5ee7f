using CalRec.MLNet.Persistence;
using CalRec.MLNet.Tables;
using CalRec.Recommenders;
using CalRec.Recommenders.CalRec;
using CalRec.Recommenders.Grounding;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace CalRec.MLNet;

/// <summary>
/// A fitted sequential recommender as an ML.NET <see cref="ITransformer"/>. <see cref="Transform"/> is lazy: it reads a
/// history table (<see cref="RecommendationColumns.HistoryColumnName"/>, a vector of item ids, oldest first) through a
/// cursor, scores users in blocks as rows are read, and appends the top-K item ids and their scores; every input column
/// passes through. An interactions table (user and item id columns, no history column) is grouped per user first, giving
/// one row per user with <c>UserId</c>, <c>History</c> and the two outputs. Single rows go through
/// <c>mlContext.Model.CreatePredictionEngine</c>. Save with <c>mlContext.SequentialRecommendation().SaveModel</c>.
/// </summary>
public sealed class SequentialRecommendationTransformer : ITransformer, ICanSaveModel
{
    internal const int BlockSize = BlockRecommender.BatchSize;
    private readonly MLContext _mlContext;

    internal SequentialRecommendationTransformer(MLContext mlContext, RecommenderModel model, RecommendationColumns columns)
    {
        _mlContext = mlContext;
        Model = model;
        Columns = columns;
    }

    /// <summary>The context the transformer was made in.</summary>
    internal MLContext MLContext => _mlContext;

    /// <summary>The fitted recommender (catalogue, scorer, training provenance).</summary>
    public RecommenderModel Model { get; }

    /// <summary>The columns read and written, K and seen-item exclusion.</summary>
    public RecommendationColumns Columns { get; }

    /// <summary>True: single rows map through <see cref="GetRowToRowMapper"/> (history tables only).</summary>
    public bool IsRowToRowMapper => true;

    /// <summary>The same fitted model with other output settings (for example a larger K); this one is unchanged.</summary>
    public SequentialRecommendationTransformer WithColumns(RecommendationColumns columns)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(columns.TopK, nameof(columns));
        return new(_mlContext, Model, columns);
    }

    /// <summary>
    /// The output schema for <paramref name="inputSchema"/>: a history table gains the two output columns; an
    /// interactions table becomes one row per user. A missing or mistyped column is an
    /// <see cref="ArgumentOutOfRangeException"/> naming it and the type expected.
    /// </summary>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        return IsHistoryTable(inputSchema) ? AppendOutputs(inputSchema) : AppendOutputs(GroupedSchema(inputSchema));
    }

    /// <summary>Recommendations for every row of <paramref name="input"/>, computed lazily as the result is read.</summary>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (!IsHistoryTable(input.Schema))
        {
            GroupedSchema(input.Schema);
            input = HistoryTable.FromInteractions(_mlContext, input, Columns);
        }

        return new RecommendationDataView(this, input, AppendOutputs(input.Schema));
    }

    /// <summary>A row mapper for history tables (what PredictionEngine uses).</summary>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        if (!IsHistoryTable(inputSchema))
        {
            throw new ArgumentOutOfRangeException(nameof(inputSchema),
                $"Single-row prediction needs a history column '{Columns.HistoryColumnName}' (vector of item ids, oldest first); an interactions table is grouped per user by Transform only.");
        }

        return new RecommendationRowMapper(this, inputSchema, AppendOutputs(inputSchema));
    }

    void ICanSaveModel.Save(ModelSaveContext ctx) => ModelZip.SaveComponent(this, _mlContext, ctx);

    /// <summary>Column index of the history column, checked; throws when it is present with another type.</summary>
    internal DataViewSchema.Column HistoryColumn(DataViewSchema schema) =>
        ColumnReader.Require(schema, Columns.HistoryColumnName, "history table", "a vector of text (item ids, oldest first; for a text column of space-separated ids, add mlContext.Transforms.Text.TokenizeIntoWords first)", ColumnReader.IsTextVector);

    private bool IsHistoryTable(DataViewSchema schema) => schema.GetColumnOrNull(Columns.HistoryColumnName) is not null
        || schema.GetColumnOrNull(Columns.ItemIdColumnName) is null;

    private DataViewSchema GroupedSchema(DataViewSchema interactions)
    {
        InteractionTable.Columns(interactions, Columns.UserIdColumnName, Columns.ItemIdColumnName, Columns.TimestampColumnName);
        var builder = new DataViewSchema.Builder();
        builder.AddColumn(Columns.UserIdColumnName, TextDataViewType.Instance);
        builder.AddColumn(Columns.HistoryColumnName, new VectorDataViewType(TextDataViewType.Instance));
        return builder.ToSchema();
    }

    private DataViewSchema AppendOutputs(DataViewSchema input)
    {
        HistoryColumn(input);
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(input);
        builder.AddColumn(Columns.PredictedItemIdsColumnName, new VectorDataViewType(TextDataViewType.Instance));
        builder.AddColumn(Columns.ScoresColumnName, new VectorDataViewType(NumberDataViewType.Single));
        return builder.ToSchema();
    }

    /// <summary>A block scorer with this transformer's K and exclusion (its buffers are reused from block to block).</summary>
    internal BlockRecommender CreateBlockRecommender() => new(Model, Columns.TopK, Columns.ExcludeSeen, CreateScorer());

    /// <summary>A single-user recommender for the row mapper.</summary>
    internal Recommender CreateRecommender() => new(Model, CreateScorer());

    /// <summary>
    /// What ranks the catalogue: the model itself, or, for a CALRec model saved with a grounding path other than dense
    /// retrieval (see <see cref="SequentialRecommendationTransforms.GroundItems"/>), a grounded scorer along that path.
    /// Grounded scorers are not thread-safe, so each cursor and each mapped row makes its own.
    /// </summary>
    private IRecommenderScorer CreateScorer() =>
        Model is CalRecModel { Grounding.Path: not GroundingPath.Dense } calrec ? new GroundedScorer(calrec, calrec.Grounding) : Model;
}
