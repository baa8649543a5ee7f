using System.CommandLine;
using CalRec.Data;
using CalRec.Data.Readers;

namespace CalRec.Cli.Options;

/// <summary>
/// The options every command that reads a dataset shares: the format (detected by default), a column map for CSV/TSV
/// files, a minimum rating, the Amazon metadata file, and the bad-record policy.
/// </summary>
internal sealed class DatasetArguments
{
    public Option<string?> Format { get; } = new("--format")
    {
        Description = "Dataset format: auto, normalized, recbole, movielens, amazon, csv, sqlite (default: detected from the path).",
    };

    public Option<string?> Columns { get; } = new("--columns")
    {
        Description = "Column map for CSV/TSV: user=COL,item=COL,timestamp=COL|none,rating=COL,domain=COL,items=FILE,item_id=COL,title=COL,attributes=A|B,delimiter=tab.",
    };

    public Option<double?> MinRating { get; } = new("--min-rating") { Description = "Drop interactions rated below this." };

    public Option<string?> Metadata { get; } = new("--metadata") { Description = "Amazon metadata file (default: the one meta*.json[.gz] beside the reviews)." };

    public Option<bool> SkipBad { get; } = new("--skip-bad") { Description = "Skip bad records (unknown item ids, malformed rows) with a warning instead of failing." };

    public void AddTo(Command command)
    {
        command.Options.Add(Format);
        command.Options.Add(Columns);
        command.Options.Add(MinRating);
        command.Options.Add(Metadata);
        command.Options.Add(SkipBad);
    }

    public DatasetReadOptions ReadOptions(ParseResult p) => new()
    {
        Format = p.GetValue(Format)?.ToLowerInvariant() switch
        {
            null or "auto" => DatasetFormat.Auto,
            "normalized" => DatasetFormat.Normalized,
            "recbole" => DatasetFormat.RecBole,
            "movielens" => DatasetFormat.MovieLens,
            "amazon" => DatasetFormat.AmazonReviews,
            "csv" or "tsv" or "delimited" => DatasetFormat.Delimited,
            "sqlite" or "db" => DatasetFormat.Sqlite,
            string other => throw new FormatException($"--format: unknown format '{other}' (auto, normalized, recbole, movielens, amazon, csv, sqlite)."),
        },
        Columns = p.GetValue(Columns) is string map ? ColumnMap.Parse(map) : null,
        MinRating = p.GetValue(MinRating),
        AmazonMetadataPath = p.GetValue(Metadata),
        Policy = p.GetValue(SkipBad) ? BadRecordPolicy.Skip : BadRecordPolicy.Fail,
    };

    public InteractionDataset Load(ParseResult p, string path) => DatasetReader.Load(path, ReadOptions(p));
}
