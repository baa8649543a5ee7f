namespace CalRec.MLNet;

/// <summary>One user's history: the row type of the history tables the library makes, and a PredictionEngine input.</summary>
public sealed class HistoryRow
{
    /// <summary>The user.</summary>
    public string UserId { get; set; } = "";

    /// <summary>Item ids, oldest first.</summary>
    public string[] History { get; set; } = [];
}
