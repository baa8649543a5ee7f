using CalRec.Data.Splits;
using CalRec.MLNet.Tables;
using CalRec.Recommenders;
using CalRec.Recommenders.CalRec;
using CalRec.Recommenders.Grounding;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace CalRec.MLNet;

/// <summary>
/// Transforms of <c>mlContext.SequentialRecommendation().Transforms</c>: <see cref="SerializeHistory"/>, histories as
/// the text CALRec reads, and <see cref="GroundItems"/>, CALRec's generated next-item texts grounded in the real
/// catalogue; a CALRec pipeline reads serialize, recommend, ground.
/// </summary>
public sealed class SequentialRecommendationTransforms
{
    private readonly MLContext _mlContext;

    internal SequentialRecommendationTransforms(MLContext mlContext) => _mlContext = mlContext;

    /// <summary>
    /// Appends <paramref name="outputColumnName"/>: each history (a vector of item ids in
    /// <paramref name="catalogue"/>'s <see cref="SequentialRecommenderOptions.HistoryColumnName"/>) serialized as CALRec
    /// reads it, each item's text under <paramref name="template"/> (null: the title followed by every attribute; for a
    /// CALRec model, its <c>Trainer.Template</c>) followed by the item separator token, oldest first. The item texts come
    /// from <paramref name="catalogue"/>'s <see cref="SequentialRecommenderOptions.Items"/> and its catalogue columns,
    /// read when this is called. CALRec itself reads the last <c>MaxHistory</c> items of it, each cut to
    /// <c>MaxItemTokens</c> tokens. Saved and loaded as part of any pipeline.
    /// </summary>
    public IEstimator<ITransformer> SerializeHistory(SequentialRecommenderOptions catalogue, string? template = null, string outputColumnName = DefaultColumnNames.HistoryText) =>
        HistorySerialization.Create(_mlContext.Transforms, catalogue, template, catalogue?.HistoryColumnName ?? DefaultColumnNames.History, outputColumnName);

    /// <summary>
    /// Grounding of a fitted CALRec recommender: ranks the catalogue along <paramref name="options"/>' path (dense
    /// retrieval; BM25 quasi-round-robin over the generated texts; BIGRec embedding grounding re-weighted by popularity
    /// with γ; trie-constrained generation; or the weighted reciprocal-rank fusion of the lists). With
    /// <paramref name="tune"/>, <c>Fit</c> first chooses γ and the fusion weights by NDCG@10 on the validation table it
    /// is given (<c>History</c> + <c>Label</c>, for example <c>Data.LeaveOneOutValidationSet</c>; never the test
    /// table). The settings are saved with the model.
    /// </summary>
    public GroundItemsEstimator GroundItems(SequentialRecommendationTransformer calrec, GroundingOptions options, bool tune = false, int validationUsers = GroundingTuner.DefaultValidationUsers)
    {
        ArgumentNullException.ThrowIfNull(calrec);
        ArgumentNullException.ThrowIfNull(options);
        if (calrec.Model is not CalRecModel)
        {
            throw new ArgumentException($"GroundItems grounds a CALRec model's generated texts; this recommender is a {calrec.Model.Kind} model.", nameof(calrec));
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(validationUsers);
        options.Validate();
        return new GroundItemsEstimator(_mlContext, calrec, options.Clone(), tune, validationUsers);
    }
}

/// <summary>
/// The serialization and grounding steps on ML.NET's own transforms catalog: <c>mlContext.Transforms.SerializeHistory(...)</c>
/// and <c>mlContext.Transforms.GroundItems(...)</c>.
/// </summary>
public static class TransformsCatalogExtensions
{
    /// <summary>
    /// Histories serialized as CALRec reads them: the same estimator as
    /// <see cref="SequentialRecommendationTransforms.SerializeHistory"/>.
    /// </summary>
    public static IEstimator<ITransformer> SerializeHistory(this TransformsCatalog catalog, SequentialRecommenderOptions catalogue, string? template = null,
        string outputColumnName = DefaultColumnNames.HistoryText)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return HistorySerialization.Create(catalog, catalogue, template, catalogue?.HistoryColumnName ?? DefaultColumnNames.History, outputColumnName);
    }

    /// <summary>
    /// CALRec's generated next-item texts grounded in the real catalogue: the same estimator as
    /// <see cref="SequentialRecommendationTransforms.GroundItems"/>.
    /// </summary>
    public static GroundItemsEstimator GroundItems(this TransformsCatalog catalog, SequentialRecommendationTransformer calrec, GroundingOptions options, bool tune = false,
        int validationUsers = GroundingTuner.DefaultValidationUsers)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(calrec);
        return new SequentialRecommendationTransforms(calrec.MLContext).GroundItems(calrec, options, tune, validationUsers);
    }
}

/// <summary>
/// The estimator of <see cref="SequentialRecommendationTransforms.GroundItems"/>: <see cref="Fit"/> reads a validation
/// table when tuning (otherwise nothing) and returns the CALRec recommender with the grounding settings.
/// </summary>
public sealed class GroundItemsEstimator : IEstimator<SequentialRecommendationTransformer>
{
    private readonly MLContext _mlContext;
    private readonly SequentialRecommendationTransformer _calrec;
    private readonly GroundingOptions _options;
    private readonly bool _tune;
    private readonly int _validationUsers;

    internal GroundItemsEstimator(MLContext mlContext, SequentialRecommendationTransformer calrec, GroundingOptions options, bool tune, int validationUsers)
    {
        _mlContext = mlContext;
        _calrec = calrec;
        _options = options;
        _tune = tune;
        _validationUsers = validationUsers;
    }

    /// <summary>The grounded recommender (tuned on <paramref name="input"/>'s histories and labels when asked to).</summary>
    public SequentialRecommendationTransformer Fit(IDataView input)
    {
        var calrec = (CalRecModel)_calrec.Model;
        GroundingOptions options = _options;
        if (_tune)
        {
            ArgumentNullException.ThrowIfNull(input);
            using IChannel channel = ((IHostEnvironment)_mlContext).Start("GroundItems");
            options = GroundingTuner.Tune(calrec, Cases(input, calrec), _options, _validationUsers, log: message => channel.Info(MessageSensitivity.None, "{0}", message));
        }

        return new SequentialRecommendationTransformer(_mlContext, calrec.WithGrounding(options), _calrec.Columns);
    }

    /// <summary>The output schema: the recommender's on <paramref name="inputSchema"/>.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema) =>
        _mlContext.Transforms.CustomMapping<Persistence.PlaceholderRow, RecommendationRow>((_, _) => { }, contractName: null, outputSchemaDefinition: OutputDefinition(_calrec.Columns))
            .GetOutputSchema(inputSchema);

    private static SchemaDefinition OutputDefinition(RecommendationColumns columns)
    {
        var definition = SchemaDefinition.Create(typeof(RecommendationRow));
        definition[nameof(RecommendationRow.PredictedItemIds)].ColumnName = columns.PredictedItemIdsColumnName;
        definition[nameof(RecommendationRow.Scores)].ColumnName = columns.ScoresColumnName;
        return definition;
    }

    // Validation cases as item indices of the model's catalogue.
    private List<EvaluationCase> Cases(IDataView input, CalRecModel model)
    {
        DataViewSchema.Column history = _calrec.HistoryColumn(input.Schema);
        DataViewSchema.Column label = ColumnReader.Require(input.Schema, DefaultColumnNames.Label, "validation table", ColumnReader.IdTypes, ColumnReader.IsId);
        using DataViewRowCursor cursor = input.GetRowCursor([history, label]);
        ValueGetter<VBuffer<ReadOnlyMemory<char>>> getHistory = cursor.GetGetter<VBuffer<ReadOnlyMemory<char>>>(history);
        Func<string> getLabel = ColumnReader.IdGetter(cursor, label);
        VBuffer<ReadOnlyMemory<char>> value = default;
        var cases = new List<EvaluationCase>();
        while (cursor.MoveNext())
        {
            getHistory(ref value);
            string target = getLabel();
            int[] indices = model.ToIndices(RecommendationValues.Strings(value), $"row {cursor.Position + 1}");
            cases.Add(new EvaluationCase(cases.Count, indices, model.IndexOf(target)
                ?? throw new InvalidDataException($"validation table, row {cursor.Position + 1}, column '{DefaultColumnNames.Label}': item '{target}' is not in the model's catalogue.")));
        }

        return cases;
    }
}
