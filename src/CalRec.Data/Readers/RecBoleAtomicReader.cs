using System.Globalization;
using CalRec.Data;

namespace CalRec.Data.Readers;

/// <summary>
/// Reads RecBole atomic files: <c>NAME.inter</c> (required; typed header such as <c>user_id:token item_id:token
/// rating:float timestamp:float</c>) and <c>NAME.item</c> (optional; <c>item_id:token</c> plus attribute columns). Each
/// user's interactions are ordered by timestamp with ties kept in file order. Interactions below a minimum rating can be
/// dropped when a rating column exists.
/// </summary>
public static class RecBoleAtomicReader
{
    /// <summary>
    /// Loads <c>folder/name.inter</c> (+ <c>.item</c>); <paramref name="name"/> defaults to the folder name. Interactions
    /// rated below <paramref name="minRating"/> are dropped.
    /// </summary>
    public static InteractionDataset Load(string folder, string? name = null, double? minRating = null, BadRecordPolicy policy = BadRecordPolicy.Fail)
    {
        name ??= Path.GetFileName(Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar));
        string inter = Path.Combine(folder, name + ".inter"), item = Path.Combine(folder, name + ".item");
        if (!File.Exists(inter))
        {
            throw new FileNotFoundException($"{folder}: missing {name}.inter (RecBole atomic files).", inter);
        }

        var bad = new BadRecords(policy);
        List<CatalogItem>? items = File.Exists(item) ? ReadItems(item) : null;
        var known = items?.Select(i => i.Id).ToHashSet(StringComparer.Ordinal);
        var log = new InteractionLog();
        int u = -1, i = -1, r = -1, t = -1;
        foreach ((long line, string[] header, string[] cols) in Rows(inter, bad))
        {
            if (u < 0)
            {
                (u, i) = (Column(header, "user_id", inter), Column(header, "item_id", inter));
                (r, t) = (Array.IndexOf(header, "rating"), Array.IndexOf(header, "timestamp"));
            }

            string user = cols[u], itemId = cols[i];
            if (user.Length == 0 || itemId.Length == 0)
            {
                bad.Report(inter, line, user.Length == 0 ? "user_id" : "item_id", "empty id");
                continue;
            }

            if (known is not null && !known.Contains(itemId))
            {
                bad.Report(inter, line, "item_id", $"item id '{itemId}' is not in {Path.GetFileName(item)}");
                continue;
            }

            double? rating = r >= 0 ? Number(cols[r], inter, line, "rating", bad) : null;
            double? time = t >= 0 ? Number(cols[t], inter, line, "timestamp", bad) : null;
            if ((r >= 0 && rating is null) || (t >= 0 && time is null) || (minRating is double min && rating < min))
            {
                continue;
            }

            log.Add(user, itemId, time);
        }

        return InteractionDataset.FromReader(name, items ?? log.CatalogOfSeenItems(), log.Sequences(), inter, policy, bad.Warnings());
    }

    private static List<CatalogItem> ReadItems(string item)
    {
        var items = new List<CatalogItem>();
        var known = new HashSet<string>(StringComparer.Ordinal);
        foreach ((long line, string[] header, string[] cols) in Rows(item, new BadRecords(BadRecordPolicy.Fail)))
        {
            int id = Column(header, "item_id", item);
            if (!known.Add(cols[id]))
            {
                throw new DataFormatException(item, line, "item_id", $"duplicated item id '{cols[id]}'");
            }

            int titleCol = Array.FindIndex(header, h => h.Contains("title", StringComparison.Ordinal));
            string extra = string.Join("; ", header.Select((h, k) => (h, k)).Where(x => x.k != id && x.k != titleCol && cols[x.k].Length > 0).Select(x => $"{x.h}={cols[x.k]}"));
            items.Add(new CatalogItem(cols[id], titleCol >= 0 ? cols[titleCol] : string.Empty, extra));
        }

        return items;
    }

    private static IEnumerable<(long Line, string[] Header, string[] Columns)> Rows(string path, BadRecords bad)
    {
        string[]? header = null;
        foreach ((long line, string text) in TextLines.Read(path, undecodable: (l, problem) => bad.Report(path, l, "(line)", problem)))
        {
            if (header is null)
            {
                header = text.Split('\t').Select(h => h.Split(':')[0]).ToArray();
                continue;
            }

            string[] cols = text.Split('\t');
            if (cols.Length != header.Length)
            {
                bad.Report(path, line, header[Math.Min(cols.Length, header.Length - 1)], $"expected {header.Length} tab-separated columns, found {cols.Length}");
                continue;
            }

            yield return (line, header, cols);
        }

        if (header is null)
        {
            throw new DataFormatException(path, 1, "header", "empty file");
        }
    }

    private static int Column(string[] header, string name, string path)
    {
        int i = Array.IndexOf(header, name);
        return i >= 0 ? i : throw new DataFormatException(path, 1, name, $"missing column '{name}' (header: {string.Join(", ", header)})");
    }

    private static double? Number(string text, string path, long line, string field, BadRecords bad)
    {
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
        {
            return v;
        }

        bad.Report(path, line, field, $"'{text}' is not a number");
        return null;
    }
}
