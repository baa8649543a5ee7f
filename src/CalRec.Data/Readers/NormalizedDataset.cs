using System.Text;
using System.Text.Json;
using CalRec.Data;

namespace CalRec.Data.Readers;

/// <summary>
/// Streaming readers of the normalized layout (<c>items.tsv</c> with header <c>item_id, title, extra</c> and an optional <c>domain</c> column;
/// <c>sequences.jsonl</c> with <c>{"user", "items", "ts"}</c> per line). Errors name the file, line and field.
/// </summary>
public static class NormalizedDataset
{
    /// <summary>Reads <c>items.tsv</c>.</summary>
    public static IEnumerable<CatalogItem> ReadItems(string path) => ReadItems(path, BadRecordPolicy.Fail, []);

    // A line that is not valid UTF-8: an error, or with Skip one more skipped record.
    private static Action<long, string>? Undecodable(string path, BadRecordPolicy policy, ICollection<string> skipped) =>
        policy == BadRecordPolicy.Skip ? (line, problem) => skipped.Add($"{path}:{line}: field '(line)': {problem}") : null;

    /// <summary>
    /// Reads <c>items.tsv</c>; with <see cref="BadRecordPolicy.Skip"/> a malformed row (too few columns, an empty or
    /// duplicated id) is left out and its error message added to <paramref name="skipped"/>. The header must be right.
    /// </summary>
    public static IEnumerable<CatalogItem> ReadItems(string path, BadRecordPolicy policy, ICollection<string> skipped)
    {
        string[] expected = ["item_id", "title", "extra"];
        bool headerSeen = false, domainColumn = false;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach ((long lineNo, string line) in TextLines.Read(path, undecodable: Undecodable(path, policy, skipped)))
        {
            if (!headerSeen)
            {
                if (lineNo != 1 || !line.Split('\t').Take(3).SequenceEqual(expected))
                {
                    throw new DataFormatException(path, 1, "header", $"expected the columns 'item_id<TAB>title<TAB>extra', found '{(lineNo == 1 ? line : string.Empty)}'");
                }

                headerSeen = true;
                domainColumn = line.Split('\t').ElementAtOrDefault(3) == "domain";
                continue;
            }

            string[] cols = line.Split('\t');
            DataFormatException? error = cols.Length < 2 ? new DataFormatException(path, lineNo, "title", $"expected 3 tab-separated columns, found {cols.Length}")
                : cols[0].Length == 0 ? new DataFormatException(path, lineNo, "item_id", "empty item id")
                : !seen.Add(cols[0]) ? new DataFormatException(path, lineNo, "item_id", $"duplicated item id '{cols[0]}'")
                : null;
            if (error is not null)
            {
                if (policy != BadRecordPolicy.Skip)
                {
                    throw error;
                }

                skipped.Add(error.Message);
                continue;
            }

            var item = new CatalogItem(cols[0], cols[1], cols.Length > 2 ? cols[2] : string.Empty);
            string? domain = domainColumn && cols.Length > 3 && cols[3].Length > 0 ? cols[3] : null;
            yield return item with { Domain = domain ?? item.Attribute("domain") };
        }

        if (!headerSeen)
        {
            throw new DataFormatException(path, 1, "header", "empty file: expected the columns 'item_id<TAB>title<TAB>extra'");
        }
    }

    /// <summary>
    /// Writes <paramref name="items"/> as <c>items.tsv</c> (readable by <see cref="ReadItems(string)"/>) with a fourth column,
    /// <c>domain</c>, so that an item's attributes (and so its text) read back exactly as written; tabs and line breaks
    /// inside fields become spaces.
    /// </summary>
    public static void WriteItems(string path, IEnumerable<CatalogItem> items)
    {
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false));
        writer.Write("item_id\ttitle\textra\tdomain\n");
        foreach (CatalogItem item in items)
        {
            writer.Write($"{Field(item.Id)}\t{Field(item.Title)}\t{Field(item.Extra)}\t{Field(item.Domain ?? "")}\n");
        }
    }

    private static string Field(string s) => s.Replace('\t', ' ').Replace('\n', ' ').Replace('\r', ' ');

    /// <summary>Reads <c>sequences.jsonl</c>.</summary>
    public static IEnumerable<UserSequence> ReadSequences(string path) => ReadSequences(path, BadRecordPolicy.Fail, []).Select(u => u.User);

    /// <summary>
    /// Reads <c>sequences.jsonl</c> with each record's line number; with <see cref="BadRecordPolicy.Skip"/> a malformed
    /// line (not JSON, a missing or mistyped field) is left out and its error message added to <paramref name="skipped"/>.
    /// </summary>
    public static IEnumerable<(UserSequence User, long Line)> ReadSequences(string path, BadRecordPolicy policy, ICollection<string> skipped)
    {
        foreach ((long lineNo, string line) in TextLines.Read(path, undecodable: Undecodable(path, policy, skipped)))
        {
            UserSequence user;
            try
            {
                user = ParseSequence(line, path, lineNo);
            }
            catch (DataFormatException ex) when (policy == BadRecordPolicy.Skip)
            {
                skipped.Add(ex.Message);
                continue;
            }

            yield return (user, lineNo);
        }
    }

    private static UserSequence ParseSequence(string line, string path, long lineNo)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(line);
        }
        catch (JsonException ex)
        {
            throw new DataFormatException(path, lineNo, "(line)", $"not valid JSON ({ex.Message})");
        }

        using (doc)
        {
            JsonElement root = doc.RootElement;
            if (!root.TryGetProperty("user", out JsonElement user) || user.ValueKind is not (JsonValueKind.String or JsonValueKind.Number))
            {
                throw new DataFormatException(path, lineNo, "user", "missing or not a string");
            }

            if (!root.TryGetProperty("items", out JsonElement items) || items.ValueKind != JsonValueKind.Array)
            {
                throw new DataFormatException(path, lineNo, "items", "missing or not an array");
            }

            var ids = new List<string>(items.GetArrayLength());
            foreach (JsonElement e in items.EnumerateArray())
            {
                ids.Add(e.ValueKind switch
                {
                    JsonValueKind.String => e.GetString()!,
                    JsonValueKind.Number => e.GetRawText(),
                    _ => throw new DataFormatException(path, lineNo, "items", $"item {ids.Count} is {e.ValueKind}, not a string id"),
                });
            }

            List<long>? ts = null;
            if (root.TryGetProperty("ts", out JsonElement tsEl) && tsEl.ValueKind == JsonValueKind.Array)
            {
                ts = new List<long>(tsEl.GetArrayLength());
                foreach (JsonElement e in tsEl.EnumerateArray())
                {
                    if (!e.TryGetInt64(out long t))
                    {
                        throw new DataFormatException(path, lineNo, "ts", $"timestamp {ts.Count} is not an integer");
                    }

                    ts.Add(t);
                }

                if (ts.Count != ids.Count)
                {
                    throw new DataFormatException(path, lineNo, "ts", $"{ts.Count} timestamps for {ids.Count} items");
                }
            }

            string userId = user.ValueKind == JsonValueKind.String ? user.GetString()! : user.GetRawText();
            return new UserSequence(userId, ids, ts);
        }
    }
}
