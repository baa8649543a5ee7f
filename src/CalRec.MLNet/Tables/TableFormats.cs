namespace CalRec.MLNet.Tables;

/// <summary>The table file formats the library reads and writes.</summary>
internal enum TableFormat
{
    /// <summary>Tab- or comma-separated text with a header.</summary>
    Delimited,

    /// <summary>JSON lines.</summary>
    JsonLines,

    /// <summary>Apache Parquet.</summary>
    Parquet,

    /// <summary>A SQLite database.</summary>
    Sqlite,
}

/// <summary>Picks a table format from a file name.</summary>
internal static class TableFormats
{
    internal static TableFormat Of(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".parquet" => TableFormat.Parquet,
        ".db" or ".sqlite" or ".sqlite3" => TableFormat.Sqlite,
        ".jsonl" or ".json" => TableFormat.JsonLines,
        ".tsv" or ".csv" or ".txt" => TableFormat.Delimited,
        string other => throw new ArgumentException($"{path}: unknown table format '{other}' (use .parquet, .db/.sqlite, .jsonl, .tsv or .csv)."),
    };
}
