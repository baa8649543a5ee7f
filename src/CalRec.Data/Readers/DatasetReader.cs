using CalRec.Data;
using CalRec.Data.Storage;

namespace CalRec.Data.Readers;

/// <summary>The on-disk formats <see cref="DatasetReader"/> understands.</summary>
public enum DatasetFormat
{
    /// <summary>Decide from the path (see <see cref="DatasetReader.Detect"/>).</summary>
    Auto,

    /// <summary>A folder with <c>items.tsv</c> and <c>sequences.jsonl</c>.</summary>
    Normalized,

    /// <summary>A folder with RecBole atomic files (<c>NAME.inter</c>, optional <c>NAME.item</c>).</summary>
    RecBole,

    /// <summary>A MovieLens folder (<c>u.data</c>/<c>u.item</c> or <c>ratings.dat</c>/<c>movies.dat</c>).</summary>
    MovieLens,

    /// <summary>An Amazon review JSON-lines file (optionally with a metadata file).</summary>
    AmazonReviews,

    /// <summary>A CSV or TSV interactions file read through a <see cref="ColumnMap"/>.</summary>
    Delimited,

    /// <summary>A SQLite database written by <see cref="SqliteStore"/>.</summary>
    Sqlite,
}

/// <summary>How <see cref="DatasetReader.Load"/> reads a dataset.</summary>
public sealed record DatasetReadOptions
{
    /// <summary>The format; <see cref="DatasetFormat.Auto"/> detects it from the path.</summary>
    public DatasetFormat Format { get; init; } = DatasetFormat.Auto;

    /// <summary>Dataset name; null: from the path.</summary>
    public string? Name { get; init; }

    /// <summary>Drop interactions rated below this (formats with ratings).</summary>
    public double? MinRating { get; init; }

    /// <summary>What to do with bad records.</summary>
    public BadRecordPolicy Policy { get; init; } = BadRecordPolicy.Fail;

    /// <summary>Columns of a delimited file.</summary>
    public ColumnMap? Columns { get; init; }

    /// <summary>Amazon metadata file; null: a <c>meta*.json[.gz]</c> beside the reviews file if there is exactly one.</summary>
    public string? AmazonMetadataPath { get; init; }
}

/// <summary>One entry point for every supported dataset format, choosing the reader from the path.</summary>
public static class DatasetReader
{
    /// <summary>Reads the dataset at <paramref name="path"/> (a folder or a file).</summary>
    public static InteractionDataset Load(string path, DatasetReadOptions? options = null)
    {
        options ??= new DatasetReadOptions();
        DatasetFormat format = options.Format == DatasetFormat.Auto ? Detect(path) : options.Format;
        return format switch
        {
            DatasetFormat.Normalized => InteractionDataset.Load(path, options.Policy),
            DatasetFormat.RecBole when File.Exists(path) => RecBoleAtomicReader.Load(Path.GetDirectoryName(Path.GetFullPath(path))!, options.Name ?? Path.GetFileNameWithoutExtension(path),
                options.MinRating, options.Policy),
            DatasetFormat.RecBole => RecBoleAtomicReader.Load(path, RecBoleName(path, options.Name), options.MinRating, options.Policy),
            DatasetFormat.MovieLens => MovieLensReader.Load(path, options.Name, options.MinRating, options.Policy),
            DatasetFormat.AmazonReviews => AmazonReviewReader.Load(path, options.AmazonMetadataPath ?? AmazonMetadataBeside(path), options.Name, options.MinRating, options.Policy),
            DatasetFormat.Delimited => DelimitedReader.Load(path, options.Columns, options.Name, options.MinRating, options.Policy),
            DatasetFormat.Sqlite => SqliteStore.Load(path, options.Policy),
            _ => throw new ArgumentOutOfRangeException(nameof(options), $"Unknown format {options.Format}."),
        };
    }

    /// <summary>
    /// The format of <paramref name="path"/>: a <c>.db</c>/<c>.sqlite</c> file is SQLite; a <c>.csv</c>/<c>.tsv</c> file
    /// delimited; a <c>.json</c>/<c>.jsonl</c> file (optionally <c>.gz</c>) Amazon reviews; a folder with
    /// <c>items.tsv</c> + <c>sequences.jsonl</c> normalized (preferred when several layouts are present), with
    /// <c>u.data</c> or <c>ratings.dat</c> MovieLens, with one <c>*.inter</c> RecBole; a <c>.inter</c> file is RecBole
    /// (its <c>.item</c> file beside it).
    /// </summary>
    public static DatasetFormat Detect(string path)
    {
        if (File.Exists(path))
        {
            string lower = path.ToLowerInvariant();
            string bare = lower.EndsWith(".gz", StringComparison.Ordinal) ? lower[..^3] : lower;
            return Path.GetExtension(bare) switch
            {
                ".db" or ".sqlite" or ".sqlite3" => DatasetFormat.Sqlite,
                ".csv" or ".tsv" or ".txt" => DatasetFormat.Delimited,
                ".json" or ".jsonl" => DatasetFormat.AmazonReviews,
                ".inter" => DatasetFormat.RecBole,
                var ext => throw new NotSupportedException($"{path}: cannot tell the format from the extension '{ext}' (use .db, .csv, .tsv, .json, .jsonl or .inter, or name the format)."),
            };
        }

        if (!Directory.Exists(path))
        {
            throw new DirectoryNotFoundException($"{path}: no such file or folder.");
        }

        if (File.Exists(Path.Combine(path, "items.tsv")) && File.Exists(Path.Combine(path, "sequences.jsonl")))
        {
            return DatasetFormat.Normalized;
        }

        if (MovieLensReader.IsMovieLensFolder(path))
        {
            return DatasetFormat.MovieLens;
        }

        if (Directory.GetFiles(path, "*.inter").Length == 1)
        {
            return DatasetFormat.RecBole;
        }

        throw new NotSupportedException($"{path}: not a dataset folder this tool recognizes (items.tsv + sequences.jsonl, MovieLens u.data or ratings.dat, "
            + "or one RecBole .inter file); point at a .db, .csv, .tsv or Amazon .json file, or name the format.");
    }

    private static string? RecBoleName(string folder, string? name) =>
        name ?? Directory.GetFiles(folder, "*.inter") switch
        {
            [string one] => Path.GetFileNameWithoutExtension(one),
            _ => null,
        };

    private static string? AmazonMetadataBeside(string reviews)
    {
        string folder = Path.GetDirectoryName(Path.GetFullPath(reviews))!;
        string[] candidates = Directory.GetFiles(folder, "meta*.json*").Where(f => !Path.GetFullPath(f).Equals(Path.GetFullPath(reviews), StringComparison.Ordinal)).ToArray();
        return candidates.Length == 1 ? candidates[0] : null;
    }
}
