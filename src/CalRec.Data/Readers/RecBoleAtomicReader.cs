using System.Globalization;
using System.Text;
using CalRec.Data.Core;
using CalRec.Data.Normalized;

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

        var perUser = new Dictionary<string, List<(double Time, long Order, string Item)>>(StringComparer.Ordinal);
        var userOrder = new List<string>();
        var seenItems = new List<string>();
        var seenItemSet = new HashSet<string>(StringComparer.Ordinal);
        long row = 0;
        foreach ((long line, string[] header, string[] cols) in Rows(inter))
        {
            int u = Column(header, "user_id", inter), i = Column(header, "item_id", inter);
            int r = Array.FindIndex(header, h => h == "rating"), t = Array.FindIndex(header, h => h == "timestamp");
            string user = cols[u], itemId = cols[i];
            if (user.Length == 0 || itemId.Length == 0)
            {
                throw new DataFormatException(inter, line, user.Length == 0 ? "user_id" : "item_id", "empty id");
            }

            if (r >= 0 && minRating is double min && Number(cols[r], inter, line, "rating") < min)
            {
                continue;
            }

            double time = t >= 0 ? Number(cols[t], inter, line, "timestamp") : row;
            if (!perUser.TryGetValue(user, out var list))
            {
                perUser[user] = list = [];
                userOrder.Add(user);
            }

            list.Add((time, row++, itemId));
            if (seenItemSet.Add(itemId))
            {
                seenItems.Add(itemId);
            }
        }

        var items = new List<CatalogItem>();
        if (File.Exists(item))
        {
            var known = new HashSet<string>(StringComparer.Ordinal);
            foreach ((long line, string[] header, string[] cols) in Rows(item))
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
        }
        else
        {
            items.AddRange(seenItems.Select(id => new CatalogItem(id, string.Empty, string.Empty)));
        }

        var users = userOrder.Select(user =>
        {
            var ordered = perUser[user].OrderBy(x => x.Time).ThenBy(x => x.Order).ToList();
            return new UserSequence(user, ordered.Select(x => x.Item).ToList(), ordered.Select(x => (long)x.Time).ToList());
        });
        return InteractionDataset.Create(name, items, users, policy);
    }

    private static IEnumerable<(long Line, string[] Header, string[] Columns)> Rows(string path)
    {
        using var reader = new StreamReader(path, new UTF8Encoding(false, throwOnInvalidBytes: true));
        long line = 1;
        string? first = reader.ReadLine() ?? throw new DataFormatException(path, 1, "header", "empty file");
        string[] header = first.Split('\t').Select(h => h.Split(':')[0]).ToArray();
        string? text;
        while (true)
        {
            line++;
            try
            {
                text = reader.ReadLine();
            }
            catch (DecoderFallbackException ex)
            {
                throw new DataFormatException(path, line, "(line)", $"not valid UTF-8 ({ex.Message})");
            }

            if (text is null)
            {
                yield break;
            }

            if (text.Length == 0)
            {
                continue;
            }

            string[] cols = text.Split('\t');
            if (cols.Length != header.Length)
            {
                throw new DataFormatException(path, line, header[Math.Min(cols.Length, header.Length - 1)], $"expected {header.Length} tab-separated columns, found {cols.Length}");
            }

            yield return (line, header, cols);
        }
    }

    private static int Column(string[] header, string name, string path)
    {
        int i = Array.IndexOf(header, name);
        return i >= 0 ? i : throw new DataFormatException(path, 1, name, $"missing column '{name}' (header: {string.Join(", ", header)})");
    }

    private static double Number(string text, string path, long line, string field) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : throw new DataFormatException(path, line, field, $"'{text}' is not a number");
}
