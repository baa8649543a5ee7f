using Microsoft.ML;

namespace CalRec.MLNet;

/// <summary>
/// The columns and output settings every sequential recommender estimator shares, in ML.NET's <c>...ColumnName</c>
/// style. Training reads an interactions table (<see cref="UserIdColumnName"/>, <see cref="ItemIdColumnName"/>, and when
/// present <see cref="TimestampColumnName"/>, <see cref="RatingColumnName"/>, <see cref="DomainColumnName"/>) and the
/// item catalogue <see cref="Items"/>; the fitted transformer reads a history table (<see cref="HistoryColumnName"/>)
/// and appends <see cref="PredictedItemIdsColumnName"/> and <see cref="ScoresColumnName"/>.
/// </summary>
public abstract class SequentialRecommenderOptions
{
    /// <summary>The user id column of the interactions table (text or a number). Default <c>UserId</c>.</summary>
    public string UserIdColumnName { get; set; } = DefaultColumnNames.UserId;

    /// <summary>The item id column of the interactions table and of <see cref="Items"/> (text or a number). Default <c>ItemId</c>.</summary>
    public string ItemIdColumnName { get; set; } = DefaultColumnNames.ItemId;

    /// <summary>
    /// The column ordering each user's interactions (a number or a date), used when the table has it; without it the
    /// table's row order is the order of events. Default <c>Timestamp</c>.
    /// </summary>
    public string? TimestampColumnName { get; set; } = DefaultColumnNames.Timestamp;

    /// <summary>The rating column, used with <see cref="MinRating"/> when the table has it. Default <c>Rating</c>.</summary>
    public string? RatingColumnName { get; set; } = DefaultColumnNames.Rating;

    /// <summary>Interactions rated below this are dropped before training (null keeps every row).</summary>
    public float? MinRating { get; set; }

    /// <summary>
    /// The item's domain (category), read from <see cref="Items"/> or, failing that, from the interactions table when
    /// either has it. CALRec's stage 1 trains on the mixture of all domains. Default <c>Domain</c>.
    /// </summary>
    public string? DomainColumnName { get; set; } = DefaultColumnNames.Domain;

    /// <summary>
    /// The item catalogue: <see cref="ItemIdColumnName"/>, <see cref="ItemTitleColumnName"/> and any
    /// <see cref="ItemTextColumnNames"/>. Null builds an untitled catalogue from the item ids the interactions use
    /// (enough for ID models; the LLM recommenders need titles).
    /// </summary>
    public IDataView? Items { get; set; }

    /// <summary>The title column of <see cref="Items"/>. Default <c>Title</c>.</summary>
    public string ItemTitleColumnName { get; set; } = DefaultColumnNames.Title;

    /// <summary>Further text columns of <see cref="Items"/> serialized after the title as <c>name: value</c> attributes (names lower-cased, as template placeholders).</summary>
    public IReadOnlyList<string> ItemTextColumnNames { get; set; } = [];

    /// <summary>
    /// A text column of <see cref="Items"/> holding further attributes already as <c>key=value; ...</c>, used when
    /// present. Default <c>Attributes</c>.
    /// </summary>
    public string? ItemAttributesColumnName { get; set; } = "Attributes";

    /// <summary>The history column the fitted transformer reads: a vector of item ids, oldest first. Default <c>History</c>.</summary>
    public string HistoryColumnName { get; set; } = DefaultColumnNames.History;

    /// <summary>The output column of recommended item ids, best first (vector of text). Default <c>PredictedItemIds</c>.</summary>
    public string PredictedItemIdsColumnName { get; set; } = DefaultColumnNames.PredictedItemIds;

    /// <summary>The output column of the recommended items' scores, aligned with the ids (vector of float). Default <c>Scores</c>.</summary>
    public string ScoresColumnName { get; set; } = DefaultColumnNames.Scores;

    /// <summary>How many items each output row recommends. Default 10.</summary>
    public int TopK { get; set; } = 10;

    /// <summary>Whether items already in a history are left out of its recommendations. Default true.</summary>
    public bool ExcludeSeen { get; set; } = true;

    /// <summary>
    /// Whether each user's last interaction is held out for testing (never trained on; score it with
    /// <c>Data.LeaveOneOutTestSet</c>). Default true, the evaluation protocol. False trains a production model on every
    /// interaction but the one that selects the model (the last, as validation).
    /// </summary>
    public bool HoldOutTestItem { get; set; } = true;

    /// <summary>The dataset name recorded in the model's training provenance. Default <c>interactions</c>.</summary>
    public string DatasetName { get; set; } = "interactions";

    /// <summary>The output settings a fitted transformer keeps.</summary>
    internal RecommendationColumns OutputColumns() => new(UserIdColumnName, ItemIdColumnName, TimestampColumnName, HistoryColumnName,
        PredictedItemIdsColumnName, ScoresColumnName, TopK, ExcludeSeen);

    /// <summary>Checks the settings that do not depend on a table.</summary>
    internal virtual void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(TopK, nameof(TopK));
        foreach ((string name, string? value) in (ReadOnlySpan<(string, string?)>)[(nameof(UserIdColumnName), UserIdColumnName), (nameof(ItemIdColumnName), ItemIdColumnName),
            (nameof(HistoryColumnName), HistoryColumnName), (nameof(PredictedItemIdsColumnName), PredictedItemIdsColumnName), (nameof(ScoresColumnName), ScoresColumnName),
            (nameof(ItemTitleColumnName), ItemTitleColumnName)])
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                throw new ArgumentException($"{name} must name a column.", name);
            }
        }

        if (PredictedItemIdsColumnName == ScoresColumnName)
        {
            throw new ArgumentException($"{nameof(PredictedItemIdsColumnName)} and {nameof(ScoresColumnName)} are both '{ScoresColumnName}'.", nameof(ScoresColumnName));
        }
    }
}

/// <summary>The default column names of the sequential recommendation tables.</summary>
public static class DefaultColumnNames
{
    /// <summary><c>UserId</c>.</summary>
    public const string UserId = "UserId";

    /// <summary><c>ItemId</c>.</summary>
    public const string ItemId = "ItemId";

    /// <summary><c>Timestamp</c>.</summary>
    public const string Timestamp = "Timestamp";

    /// <summary><c>Rating</c>.</summary>
    public const string Rating = "Rating";

    /// <summary><c>Domain</c>.</summary>
    public const string Domain = "Domain";

    /// <summary><c>Title</c>.</summary>
    public const string Title = "Title";

    /// <summary><c>History</c>.</summary>
    public const string History = "History";

    /// <summary><c>HistoryText</c>: a history serialized as item texts (see <c>Transforms.SerializeHistory</c>).</summary>
    public const string HistoryText = "HistoryText";

    /// <summary><c>Label</c>: the held-out next item of an evaluation table.</summary>
    public const string Label = "Label";

    /// <summary><c>PredictedItemIds</c>.</summary>
    public const string PredictedItemIds = "PredictedItemIds";

    /// <summary><c>Scores</c>.</summary>
    public const string Scores = "Scores";
}

/// <summary>The columns and output settings of a fitted sequential recommendation transformer (saved with it).</summary>
/// <param name="UserIdColumnName">User id column (interactions and history tables).</param>
/// <param name="ItemIdColumnName">Item id column (interactions tables).</param>
/// <param name="TimestampColumnName">Ordering column of interactions tables, used when present.</param>
/// <param name="HistoryColumnName">History column (vector of item ids, oldest first).</param>
/// <param name="PredictedItemIdsColumnName">Output: recommended item ids, best first.</param>
/// <param name="ScoresColumnName">Output: their scores.</param>
/// <param name="TopK">Items per output row.</param>
/// <param name="ExcludeSeen">Whether history items are left out.</param>
public sealed record RecommendationColumns(string UserIdColumnName, string ItemIdColumnName, string? TimestampColumnName, string HistoryColumnName,
    string PredictedItemIdsColumnName, string ScoresColumnName, int TopK, bool ExcludeSeen)
{
    /// <summary>The defaults of <see cref="SequentialRecommenderOptions"/>.</summary>
    public static RecommendationColumns Default { get; } = new(DefaultColumnNames.UserId, DefaultColumnNames.ItemId, DefaultColumnNames.Timestamp, DefaultColumnNames.History,
        DefaultColumnNames.PredictedItemIds, DefaultColumnNames.Scores, 10, true);
}
