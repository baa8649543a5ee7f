using Microsoft.ML;

namespace CalRec.MLNet.Tables;

/// <summary>One user's history: the row type of the history tables the library makes.</summary>
public sealed class HistoryRow
{
    /// <summary>The user.</summary>
    public string UserId { get; set; } = "";

    /// <summary>Item ids, oldest first.</summary>
    public string[] History { get; set; } = [];
}

/// <summary>Groups an interactions table into a history table (one row per user).</summary>
internal static class HistoryTable
{
    /// <summary>The histories of <paramref name="interactions"/> as a table named by <paramref name="columns"/>.</summary>
    internal static IDataView FromInteractions(MLContext ml, IDataView interactions, RecommendationColumns columns)
    {
        var rows = InteractionTable.Group(interactions, columns.UserIdColumnName, columns.ItemIdColumnName, columns.TimestampColumnName)
            .Select(g => new HistoryRow { UserId = g.User, History = [.. g.Items] }).ToList();
        var schema = Microsoft.ML.Data.SchemaDefinition.Create(typeof(HistoryRow));
        schema[nameof(HistoryRow.UserId)].ColumnName = columns.UserIdColumnName;
        schema[nameof(HistoryRow.History)].ColumnName = columns.HistoryColumnName;
        return ml.Data.LoadFromEnumerable(rows, schema);
    }
}
