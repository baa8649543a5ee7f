using System.Globalization;
using System.Text;
using CalRec.Data;

namespace CalRec.Data.Readers;

/// <summary>
/// Reads a CSV or TSV interactions file with a header row, and optionally an items file, as a <see cref="ColumnMap"/>
/// says. Fields may be quoted with <c>"</c> (RFC 4180: doubled quotes inside, delimiters and line breaks allowed).
/// </summary>
public static class DelimitedReader
{
    /// <summary>Loads <paramref name="interactionsPath"/>; ratings below <paramref name="minRating"/> are dropped.</summary>
    public static InteractionDataset Load(string interactionsPath, ColumnMap? map = null, string? name = null, double? minRating = null,
        BadRecordPolicy policy = BadRecordPolicy.Fail)
    {
        map ??= new ColumnMap();
        name ??= Path.GetFileNameWithoutExtension(interactionsPath);
        var bad = new BadRecords(policy);
        List<CatalogItem>? items = null;
        if (map.ItemsFile is not null)
        {
            string itemsPath = Path.IsPathRooted(map.ItemsFile) ? map.ItemsFile : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(interactionsPath))!, map.ItemsFile);
            items = ReadItems(itemsPath, map, bad);
        }

        var index = items?.Select((item, k) => (item.Id, k)).ToDictionary(x => x.Id, x => x.k, StringComparer.Ordinal);
        var domains = new Dictionary<string, string>(StringComparer.Ordinal);
        var log = new InteractionLog();
        string[]? header = null;
        int user = -1, item = -1, time = -1, rating = -1, domain = -1;
        foreach ((long line, string[] cols) in Rows(interactionsPath, DelimiterFor(interactionsPath, map), bad))
        {
            if (header is null)
            {
                header = cols;
                user = Column(header, map.UserColumnName, interactionsPath, required: true);
                item = Column(header, map.ItemColumnName, interactionsPath, required: true);
                time = Column(header, map.TimestampColumnName, interactionsPath, required: map.TimestampColumnName is not null);
                rating = Column(header, map.RatingColumnName, interactionsPath, required: map.RatingColumnName is not null);
                domain = Column(header, map.DomainColumnName, interactionsPath, required: map.DomainColumnName is not null);
                continue;
            }

            if (cols.Length != header.Length)
            {
                bad.Report(interactionsPath, line, header[Math.Min(cols.Length, header.Length - 1)], $"expected {header.Length} fields, found {cols.Length}");
                continue;
            }

            string u = cols[user].Trim(), i = cols[item].Trim();
            if (u.Length == 0 || i.Length == 0)
            {
                bad.Report(interactionsPath, line, u.Length == 0 ? map.UserColumnName : map.ItemColumnName, "empty id");
                continue;
            }

            if (index is not null && !index.ContainsKey(i))
            {
                bad.Report(interactionsPath, line, map.ItemColumnName, $"item id '{i}' is not in the items file");
                continue;
            }

            double? t = null;
            if (time >= 0)
            {
                t = ParseTime(cols[time]);
                if (t is null)
                {
                    bad.Report(interactionsPath, line, map.TimestampColumnName!, $"'{cols[time]}' is neither Unix seconds nor an ISO-8601 date");
                    continue;
                }
            }

            if (rating >= 0)
            {
                if (!double.TryParse(cols[rating], NumberStyles.Float, CultureInfo.InvariantCulture, out double r))
                {
                    bad.Report(interactionsPath, line, map.RatingColumnName!, $"'{cols[rating]}' is not a number");
                    continue;
                }

                if (minRating is double min && r < min)
                {
                    continue;
                }
            }

            if (domain >= 0 && cols[domain].Trim().Length > 0)
            {
                domains.TryAdd(i, cols[domain].Trim());
            }

            log.Add(u, i, t);
        }

        if (header is null)
        {
            throw new DataFormatException(interactionsPath, 1, "header", "empty file");
        }

        List<CatalogItem> catalog = items ?? log.CatalogOfSeenItems();
        if (domains.Count > 0)
        {
            catalog = catalog.Select(c => c.Domain is null && domains.TryGetValue(c.Id, out string? d) ? c with { Domain = d } : c).ToList();
        }

        return InteractionDataset.FromReader(name, catalog, log.Sequences(), interactionsPath, policy, bad.Warnings());
    }

    private static List<CatalogItem> ReadItems(string path, ColumnMap map, BadRecords bad)
    {
        var items = new List<CatalogItem>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        string[]? header = null;
        int id = -1, title = -1, domain = -1;
        int[] attributes = [];
        foreach ((long line, string[] cols) in Rows(path, DelimiterFor(path, map), bad))
        {
            if (header is null)
            {
                header = cols;
                id = Column(header, map.ItemIdColumnName, path, required: true);
                title = Column(header, map.TitleColumnName, path, required: true);
                domain = Column(header, map.ItemDomainColumnName, path, required: map.ItemDomainColumnName is not null);
                attributes = map.AttributeColumnNames.Count > 0
                    ? map.AttributeColumnNames.Select(a => Column(header, a, path, required: true)).ToArray()
                    : Enumerable.Range(0, header.Length).Where(k => k != id && k != title && k != domain).ToArray();
                continue;
            }

            if (cols.Length != header.Length)
            {
                throw new DataFormatException(path, line, header[Math.Min(cols.Length, header.Length - 1)], $"expected {header.Length} fields, found {cols.Length}");
            }

            string itemId = cols[id].Trim();
            if (itemId.Length == 0)
            {
                throw new DataFormatException(path, line, map.ItemIdColumnName, "empty item id");
            }

            if (!seen.Add(itemId))
            {
                throw new DataFormatException(path, line, map.ItemIdColumnName, $"duplicated item id '{itemId}'");
            }

            string extra = string.Join("; ", attributes.Where(k => cols[k].Trim().Length > 0).Select(k => $"{header[k]}={Clean(cols[k])}"));
            string? d = domain >= 0 && cols[domain].Trim().Length > 0 ? cols[domain].Trim() : null;
            items.Add(new CatalogItem(itemId, Clean(cols[title]), extra, d));
        }

        return header is null ? throw new DataFormatException(path, 1, "header", "empty file") : items;
    }

    /// <summary>Unix seconds (integer or fractional) or an ISO-8601 date/time (UTC unless it says otherwise).</summary>
    internal static double? ParseTime(string text)
    {
        text = text.Trim();
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds))
        {
            return seconds;
        }

        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset when)
            ? when.ToUnixTimeSeconds()
            : null;
    }

    /// <summary>A field made safe for the normalized layout: no tabs, line breaks or attribute separators.</summary>
    internal static string Clean(string s) => s.Replace('\t', ' ').Replace('\n', ' ').Replace('\r', ' ').Replace(';', ',').Trim();

    private static char DelimiterFor(string path, ColumnMap map) =>
        map.Delimiter ?? (path.EndsWith(".tsv", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".tsv.gz", StringComparison.OrdinalIgnoreCase) ? '\t' : ',');

    private static int Column(string[] header, string? name, string path, bool required)
    {
        if (name is null)
        {
            return -1;
        }

        int k = Array.FindIndex(header, h => h.Trim().Equals(name, StringComparison.OrdinalIgnoreCase));
        if (k < 0 && required)
        {
            throw new DataFormatException(path, 1, name, $"missing column '{name}' (header: {string.Join(", ", header)})");
        }

        return k;
    }

    /// <summary>Rows of fields; a quoted field may span lines (the row is reported at its first line).</summary>
    internal static IEnumerable<(long Line, string[] Fields)> Rows(string path, char delimiter, BadRecords bad)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        bool inQuotes = false;
        long start = 0;
        foreach ((long line, string text) in TextLines.Read(path, undecodable: (l, problem) => bad.Report(path, l, "(line)", problem)))
        {
            if (!inQuotes)
            {
                start = line;
                fields.Clear();
                field.Clear();
            }
            else
            {
                field.Append('\n');
            }

            for (int i = 0; i < text.Length; i++)
            {
                char c = text[i];
                if (inQuotes)
                {
                    if (c == '"' && i + 1 < text.Length && text[i + 1] == '"')
                    {
                        field.Append('"');
                        i++;
                    }
                    else if (c == '"')
                    {
                        inQuotes = false;
                    }
                    else
                    {
                        field.Append(c);
                    }
                }
                else if (c == '"' && field.Length == 0)
                {
                    inQuotes = true;
                }
                else if (c == delimiter)
                {
                    fields.Add(field.ToString());
                    field.Clear();
                }
                else
                {
                    field.Append(c);
                }
            }

            if (!inQuotes)
            {
                fields.Add(field.ToString());
                yield return (start, fields.ToArray());
            }
        }

        if (inQuotes)
        {
            throw new DataFormatException(path, start, "(line)", "a quoted field is never closed");
        }
    }
}
