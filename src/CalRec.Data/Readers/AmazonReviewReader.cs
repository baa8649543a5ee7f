using System.Text.Json;
using CalRec.Data;

namespace CalRec.Data.Readers;

/// <summary>
/// Reads Amazon review dumps (McAuley et al. 2014/2018): review lines with <c>reviewerID</c>, <c>asin</c>,
/// <c>unixReviewTime</c> and <c>overall</c>, plus optional metadata lines with <c>asin</c>, <c>title</c>, <c>brand</c>
/// and <c>categories</c> (2014: a list of category paths) or <c>category</c> (2018: one path). Metadata lines may be
/// JSON or the Python literals of the 2014 files; either file may be gzipped. An item's domain is the top-level
/// category; its attributes are <c>category</c> (the most specific one) and <c>brand</c>.
/// </summary>
public static class AmazonReviewReader
{
    /// <summary>
    /// Loads <paramref name="reviewsPath"/> and, when given, <paramref name="metadataPath"/> (the catalogue: reviews of
    /// items it lacks are bad records). Ratings below <paramref name="minRating"/> are dropped.
    /// </summary>
    public static InteractionDataset Load(string reviewsPath, string? metadataPath = null, string? name = null, double? minRating = null,
        BadRecordPolicy policy = BadRecordPolicy.Fail)
    {
        name ??= Path.GetFileName(reviewsPath).Split('.')[0];
        var bad = new BadRecords(policy);
        List<CatalogItem>? items = metadataPath is null ? null : ReadMetadata(metadataPath, bad);
        var known = items?.Select(i => i.Id).ToHashSet(StringComparer.Ordinal);
        var log = new InteractionLog();
        foreach ((long line, string text) in TextLines.Read(reviewsPath, undecodable: (l, problem) => bad.Report(reviewsPath, l, "(line)", problem)))
        {
            using JsonDocument? doc = Parse(text, reviewsPath, line, bad);
            if (doc is null)
            {
                continue;
            }

            JsonElement r = doc.RootElement;
            string? user = Text(r, "reviewerID"), asin = Text(r, "asin");
            if (user is null || asin is null)
            {
                bad.Report(reviewsPath, line, user is null ? "reviewerID" : "asin", "missing");
                continue;
            }

            if (known is not null && !known.Contains(asin))
            {
                bad.Report(reviewsPath, line, "asin", $"item '{asin}' is not in the metadata file");
                continue;
            }

            long? time = r.TryGetProperty("unixReviewTime", out JsonElement t) && t.TryGetInt64(out long ts) ? ts : null;
            if (time is null)
            {
                bad.Report(reviewsPath, line, "unixReviewTime", "missing or not an integer");
                continue;
            }

            if (minRating is double min && r.TryGetProperty("overall", out JsonElement o) && o.TryGetDouble(out double rating) && rating < min)
            {
                continue;
            }

            log.Add(user, asin, time);
        }

        return InteractionDataset.FromReader(name, items ?? log.CatalogOfSeenItems(), log.Sequences(), reviewsPath, policy, bad.Warnings());
    }

    private static List<CatalogItem> ReadMetadata(string path, BadRecords bad)
    {
        var items = new List<CatalogItem>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach ((long line, string text) in TextLines.Read(path, undecodable: (l, problem) => bad.Report(path, l, "(line)", problem)))
        {
            using JsonDocument? doc = Parse(text, path, line, bad);
            if (doc is null)
            {
                continue;
            }

            JsonElement m = doc.RootElement;
            string? asin = Text(m, "asin");
            if (asin is null)
            {
                bad.Report(path, line, "asin", "missing");
                continue;
            }

            if (!seen.Add(asin))
            {
                throw new DataFormatException(path, line, "asin", $"duplicated item id '{asin}'");
            }

            List<string> categoryPath = [];
            if (m.TryGetProperty("categories", out JsonElement cats) && cats.ValueKind == JsonValueKind.Array && cats.GetArrayLength() > 0
                && cats[0].ValueKind == JsonValueKind.Array)
            {
                categoryPath = cats[0].EnumerateArray().Select(c => c.ToString()).ToList();
            }
            else if (m.TryGetProperty("category", out JsonElement cat) && cat.ValueKind == JsonValueKind.Array)
            {
                categoryPath = cat.EnumerateArray().Select(c => c.ToString()).ToList();
            }

            string? brand = Text(m, "brand");
            var attributes = new List<string>();
            if (categoryPath.Count > 0)
            {
                attributes.Add($"category={DelimitedReader.Clean(categoryPath[^1])}");
            }

            if (!string.IsNullOrWhiteSpace(brand))
            {
                attributes.Add($"brand={DelimitedReader.Clean(brand)}");
            }

            items.Add(new CatalogItem(asin, DelimitedReader.Clean(Text(m, "title") ?? string.Empty), string.Join("; ", attributes), categoryPath.Count > 0 ? DelimitedReader.Clean(categoryPath[0]) : null));
        }

        return items;
    }

    private static JsonDocument? Parse(string text, string path, long line, BadRecords bad)
    {
        try
        {
            return JsonDocument.Parse(text.StartsWith("{'", StringComparison.Ordinal) ? PythonLiteral.ToJson(text) : text);
        }
        catch (Exception ex) when (ex is JsonException or FormatException)
        {
            bad.Report(path, line, "(line)", $"not a JSON object or Python dict literal ({ex.Message})");
            return null;
        }
    }

    private static string? Text(JsonElement e, string key) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(key, out JsonElement v) && v.ValueKind is JsonValueKind.String or JsonValueKind.Number ? v.ToString() : null;
}
