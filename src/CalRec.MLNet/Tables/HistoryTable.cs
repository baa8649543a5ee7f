using Microsoft.ML;
using Microsoft.ML.Data;

namespace CalRec.MLNet.Tables;

/// <summary>Groups an interactions table into a history table (one row per user).</summary>
internal static class HistoryTable
{
    /// <summary>The histories of <paramref name="interactions"/> as a table named by <paramref name="columns"/>.</summary>
    internal static IDataView FromInteractions(MLContext ml, IDataView interactions, RecommendationColumns columns)
    {
        var rows = InteractionTable.Group(interactions, columns.UserIdColumnName, columns.ItemIdColumnName, columns.TimestampColumnName)
            .Select(g => new HistoryRow { UserId = g.User, History = [.. g.Items] }).ToList();
        var schema = SchemaDefinition.Create(typeof(HistoryRow));
        schema[nameof(HistoryRow.UserId)].ColumnName = columns.UserIdColumnName;
        schema[nameof(HistoryRow.History)].ColumnName = columns.HistoryColumnName;
        return ml.Data.LoadFromEnumerable(rows, schema);
    }
}
