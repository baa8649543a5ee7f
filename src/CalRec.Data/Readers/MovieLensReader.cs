using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using CalRec.Data;

namespace CalRec.Data.Readers;

/// <summary>
/// Reads the GroupLens MovieLens distributions, whose text is ISO-8859-1: MovieLens-100K (<c>u.data</c>: user, item,
/// rating, timestamp separated by tabs; <c>u.item</c>: <c>id|title|release date|video date|url|19 genre flags</c>;
/// <c>u.genre</c> names the flags) and MovieLens-1M/10M (<c>ratings.dat</c>: <c>user::item::rating::timestamp</c>;
/// <c>movies.dat</c>: <c>id::Title (Year)::Genre|Genre</c>). Items get <c>year=</c> and <c>genres=</c> attributes.
/// </summary>
public static partial class MovieLensReader
{
    private static readonly Encoding Latin1 = Encoding.Latin1;

    // The genre order of u.item's flags when u.genre is absent (as documented in the 100K README).
    private static readonly string[] DefaultGenres =
    [
        "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
        "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
    ];

    /// <summary>Whether <paramref name="folder"/> holds a MovieLens distribution this reader understands.</summary>
    public static bool IsMovieLensFolder(string folder) =>
        File.Exists(Path.Combine(folder, "u.data")) || File.Exists(Path.Combine(folder, "ratings.dat"));

    /// <summary>Loads the MovieLens folder; ratings below <paramref name="minRating"/> are dropped.</summary>
    public static InteractionDataset Load(string folder, string? name = null, double? minRating = null, BadRecordPolicy policy = BadRecordPolicy.Fail)
    {
        name ??= Path.GetFileName(Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar));
        bool is100K = File.Exists(Path.Combine(folder, "u.data"));
        string ratings = Path.Combine(folder, is100K ? "u.data" : "ratings.dat");
        string movies = Path.Combine(folder, is100K ? "u.item" : "movies.dat");
        if (!File.Exists(ratings))
        {
            throw new FileNotFoundException($"{folder}: no u.data or ratings.dat (MovieLens).", ratings);
        }

        var bad = new BadRecords(policy);
        List<CatalogItem>? items = File.Exists(movies) ? (is100K ? ReadItems100K(movies, folder) : ReadItems1M(movies)) : null;
        var known = items?.Select(i => i.Id).ToHashSet(StringComparer.Ordinal);
        var log = new InteractionLog();
        string[] fields = ["user_id", "item_id", "rating", "timestamp"];
        foreach ((long line, string text) in TextLines.Read(ratings, Latin1))
        {
            string[] cols = is100K ? text.Split('\t') : text.Split("::");
            if (cols.Length != 4)
            {
                bad.Report(ratings, line, fields[Math.Min(cols.Length, 3)], $"expected 4 fields (user, item, rating, timestamp), found {cols.Length}");
                continue;
            }

            if (known is not null && !known.Contains(cols[1]))
            {
                bad.Report(ratings, line, "item_id", $"item id '{cols[1]}' is not in {Path.GetFileName(movies)}");
                continue;
            }

            if (!double.TryParse(cols[2], NumberStyles.Float, CultureInfo.InvariantCulture, out double rating))
            {
                bad.Report(ratings, line, "rating", $"'{cols[2]}' is not a number");
                continue;
            }

            if (!long.TryParse(cols[3], NumberStyles.Integer, CultureInfo.InvariantCulture, out long time))
            {
                bad.Report(ratings, line, "timestamp", $"'{cols[3]}' is not an integer");
                continue;
            }

            if (minRating is double min && rating < min)
            {
                continue;
            }

            log.Add(cols[0], cols[1], time);
        }

        return InteractionDataset.FromReader(name, items ?? log.CatalogOfSeenItems(), log.Sequences(), ratings, policy, bad.Warnings());
    }

    private static List<CatalogItem> ReadItems100K(string path, string folder)
    {
        string genreFile = Path.Combine(folder, "u.genre");
        string[] genres = File.Exists(genreFile)
            ? TextLines.Read(genreFile, Latin1).Select(l => l.Text.Split('|')[0]).ToArray()
            : DefaultGenres;
        var items = new List<CatalogItem>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach ((long line, string text) in TextLines.Read(path, Latin1))
        {
            string[] cols = text.Split('|');
            if (cols.Length < 5 + genres.Length)
            {
                throw new DataFormatException(path, line, "genres", $"expected {5 + genres.Length} '|'-separated fields, found {cols.Length}");
            }

            if (!seen.Add(cols[0]))
            {
                throw new DataFormatException(path, line, "item_id", $"duplicated item id '{cols[0]}'");
            }

            (string title, string? year) = SplitYear(cols[1]);
            year ??= cols[2].Length >= 4 ? cols[2][^4..] : null;
            string genreList = string.Join(' ', genres.Where((g, k) => cols[5 + k] == "1"));
            items.Add(new CatalogItem(cols[0], title, Attributes(year, genreList)));
        }

        return items;
    }

    private static List<CatalogItem> ReadItems1M(string path)
    {
        var items = new List<CatalogItem>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach ((long line, string text) in TextLines.Read(path, Latin1))
        {
            string[] cols = text.Split("::");
            if (cols.Length != 3)
            {
                throw new DataFormatException(path, line, cols.Length < 2 ? "title" : "genres", $"expected 3 '::'-separated fields (id, title, genres), found {cols.Length}");
            }

            if (!seen.Add(cols[0]))
            {
                throw new DataFormatException(path, line, "item_id", $"duplicated item id '{cols[0]}'");
            }

            (string title, string? year) = SplitYear(cols[1]);
            items.Add(new CatalogItem(cols[0], title, Attributes(year, cols[2].Replace('|', ' '))));
        }

        return items;
    }

    private static string Attributes(string? year, string genres) =>
        string.Join("; ", new[] { year is null ? null : $"year={year}", genres.Length == 0 ? null : $"genres={genres}" }.Where(s => s is not null));

    /// <summary>"Toy Story (1995)" → ("Toy Story", "1995").</summary>
    private static (string Title, string? Year) SplitYear(string raw)
    {
        Match m = TitleYear().Match(raw);
        return m.Success ? (m.Groups[1].Value.Trim(), m.Groups[2].Value) : (raw.Trim(), null);
    }

    [GeneratedRegex(@"^(.*)\((\d{4})\)\s*$")]
    private static partial Regex TitleYear();
}
