namespace CalRec.Data.Readers;

/// <summary>
/// Which columns of a delimited interactions file (and optional items file) mean what. Column names are matched
/// against the header row, case-insensitively.
/// </summary>
public sealed record ColumnMap
{
    /// <summary>User id column of the interactions file.</summary>
    public string UserColumnName { get; init; } = "user_id";

    /// <summary>Item id column of the interactions file.</summary>
    public string ItemColumnName { get; init; } = "item_id";

    /// <summary>Timestamp column (Unix seconds, or an ISO-8601 date/time); null: file order.</summary>
    public string? TimestampColumnName { get; init; } = "timestamp";

    /// <summary>Rating column, used with a minimum rating; null: none.</summary>
    public string? RatingColumnName { get; init; }

    /// <summary>Domain (category) column in the interactions file, tagging the interacted item; null: none.</summary>
    public string? DomainColumnName { get; init; }

    /// <summary>Items file (relative paths are resolved against the interactions file's folder); null: no catalogue file.</summary>
    public string? ItemsFile { get; init; }

    /// <summary>Item id column of the items file.</summary>
    public string ItemIdColumnName { get; init; } = "item_id";

    /// <summary>Title column of the items file.</summary>
    public string TitleColumnName { get; init; } = "title";

    /// <summary>Domain column of the items file; null: none.</summary>
    public string? ItemDomainColumnName { get; init; }

    /// <summary>Item attribute columns kept as <c>name=value</c> attributes; empty: every other column.</summary>
    public IReadOnlyList<string> AttributeColumnNames { get; init; } = [];

    /// <summary>Field delimiter; null: tab for <c>.tsv</c> files, comma otherwise.</summary>
    public char? Delimiter { get; init; }

    /// <summary>
    /// Parses <c>key=value</c> pairs separated by commas: <c>user</c>, <c>item</c>, <c>timestamp</c>, <c>rating</c>,
    /// <c>domain</c>, <c>items</c> (items file), <c>item_id</c>, <c>title</c>, <c>item_domain</c>, <c>attributes</c>
    /// (names separated by <c>|</c>), <c>delimiter</c> (<c>tab</c>, <c>comma</c>, <c>semicolon</c>, <c>pipe</c> or one
    /// character). A timestamp of <c>none</c> means file order. Unknown keys are an error.
    /// </summary>
    public static ColumnMap Parse(string text)
    {
        var map = new ColumnMap();
        foreach (string pair in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = pair.IndexOf('=');
            if (eq <= 0)
            {
                throw new FormatException($"Column map entry '{pair}' is not key=value.");
            }

            string key = pair[..eq].Trim().ToLowerInvariant(), value = pair[(eq + 1)..].Trim();
            map = key switch
            {
                "user" => map with { UserColumnName = value },
                "item" => map with { ItemColumnName = value },
                "timestamp" or "time" => map with { TimestampColumnName = value.Equals("none", StringComparison.OrdinalIgnoreCase) ? null : value },
                "rating" => map with { RatingColumnName = value },
                "domain" => map with { DomainColumnName = value },
                "items" => map with { ItemsFile = value },
                "item_id" => map with { ItemIdColumnName = value },
                "title" => map with { TitleColumnName = value },
                "item_domain" => map with { ItemDomainColumnName = value },
                "attributes" => map with { AttributeColumnNames = value.Split('|', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) },
                "delimiter" => map with
                {
                    Delimiter = value.ToLowerInvariant() switch
                    {
                        "tab" or "\\t" => '\t',
                        "comma" => ',',
                        "semicolon" => ';',
                        "pipe" => '|',
                        _ when value.Length == 1 => value[0],
                        _ => throw new FormatException($"Delimiter '{value}' is not one character (or tab, comma, semicolon, pipe)."),
                    },
                },
                _ => throw new FormatException($"Unknown column map key '{key}' (user, item, timestamp, rating, domain, items, item_id, title, item_domain, attributes, delimiter)."),
            };
        }

        return map;
    }
}
