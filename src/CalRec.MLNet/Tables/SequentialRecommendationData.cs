using CalRec.Data;
using CalRec.Data.Readers;
using CalRec.Data.Splits;
using CalRec.MLNet.Tables;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace CalRec.MLNet;

/// <summary>One evaluation case: a user's history and the next item they picked.</summary>
public sealed class EvaluationRow
{
    /// <summary>The user.</summary>
    public string UserId { get; set; } = "";

    /// <summary>Item ids before the held-out one, oldest first.</summary>
    public string[] History { get; set; } = [];

    /// <summary>The held-out next item.</summary>
    public string Label { get; set; } = "";
}

/// <summary>History and evaluation tables made from interactions tables (<c>mlContext.SequentialRecommendation().Data</c>).</summary>
public sealed class SequentialRecommendationData
{
    private readonly MLContext _mlContext;

    internal SequentialRecommendationData(MLContext mlContext) => _mlContext = mlContext;

    /// <summary>
    /// One row per user (<c>UserId</c>, <c>History</c> under <paramref name="options"/>' names) with every interaction,
    /// oldest first: the table to score for "what next" in production.
    /// </summary>
    public IDataView Histories(IDataView interactions, SequentialRecommenderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(interactions);
        return HistoryTable.FromInteractions(_mlContext, interactions, (options ?? new MostPopularEstimatorOptions()).OutputColumns());
    }

    /// <summary>
    /// The leave-one-out test cases a trainer fitted on <paramref name="interactions"/> never saw: for each user with at
    /// least three interactions, the history without the last item and that item as <c>Label</c>. Read with the same
    /// <paramref name="options"/> as the trainer (columns, catalogue, rating filter); <paramref name="domain"/> keeps
    /// the interactions of one domain, as CALRec's <c>TargetDomain</c> does.
    /// </summary>
    public IDataView LeaveOneOutTestSet(IDataView interactions, SequentialRecommenderOptions? options = null, string? domain = null) =>
        Cases(interactions, options, domain, validation: false);

    /// <summary>The leave-one-out test cases of <paramref name="tables"/> (its item catalogue gives the domains).</summary>
    public IDataView LeaveOneOutTestSet(InteractionTables tables, string? domain = null)
    {
        ArgumentNullException.ThrowIfNull(tables);
        return Cases(tables.Interactions, new MostPopularEstimatorOptions { Items = tables.Items }, domain, validation: false);
    }

    /// <summary>The leave-one-out validation cases (history without the last two items, the second to last as <c>Label</c>).</summary>
    public IDataView LeaveOneOutValidationSet(IDataView interactions, SequentialRecommenderOptions? options = null, string? domain = null) =>
        Cases(interactions, options, domain, validation: true);

    /// <summary>
    /// A history table (<c>UserId</c>, <c>History</c>) read lazily from a file, by extension: <c>.parquet</c> (a text
    /// column and a list-of-text column), <c>.db</c>/<c>.sqlite</c> (through ML.NET's <c>DatabaseLoader</c>, with
    /// <paramref name="query"/> selecting the user id and the space-separated history in that order; default
    /// <c>SELECT UserId, History FROM histories</c>), <c>.jsonl</c> (the <c>sequences.jsonl</c> layout:
    /// <c>{"user": ..., "items": [...]}</c>) or <c>.tsv</c>/<c>.csv</c> (a header, then the user id and the
    /// space-separated history).
    /// </summary>
    public IDataView LoadHistories(string path, string? query = null, SequentialRecommenderOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        RecommendationColumns columns = (options ?? new MostPopularEstimatorOptions()).OutputColumns();
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path}: file not found.", path);
        }

        switch (TableFormats.Of(path))
        {
            case TableFormat.Parquet:
                return ParquetTable.Load(path);
            case TableFormat.Sqlite:
                return SqliteTable.LoadHistories(_mlContext, path, query ?? $"SELECT {string.Join(", ", SqliteTable.HistoryQueryColumns)} FROM histories", columns);
            case TableFormat.JsonLines:
                var schema = SchemaDefinition.Create(typeof(HistoryRow));
                schema[nameof(HistoryRow.UserId)].ColumnName = columns.UserIdColumnName;
                schema[nameof(HistoryRow.History)].ColumnName = columns.HistoryColumnName;
                return _mlContext.Data.LoadFromEnumerable(NormalizedDataset.ReadSequences(path).Select(u => new HistoryRow { UserId = u.User, History = [.. u.Items] }), schema);
            default:
                char separator = path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) ? ',' : '\t';
                IDataView rows = _mlContext.Data.LoadFromTextFile<HistoryTextRow>(path, separatorChar: separator, hasHeader: true, allowQuoting: true);
                return HistoryTexts.ToHistories(_mlContext, rows, columns);
        }
    }

    /// <summary>
    /// Writes a table (for example a recommender's scored output) to a file, by extension: <c>.parquet</c>,
    /// <c>.db</c>/<c>.sqlite</c> (table <paramref name="table"/>, replaced in one transaction), <c>.jsonl</c>, or
    /// <c>.tsv</c>/<c>.txt</c> (ML.NET's <c>SaveAsText</c>). Streams the rows; files are written to a temporary name
    /// and renamed over the target. <paramref name="progress"/> hears the number of rows written so far. Returns the
    /// number of rows, where the format counts them.
    /// </summary>
    public long SaveTable(IDataView data, string path, string table = "recommendations", IProgress<long>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string full = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(folder))
        {
            throw new DirectoryNotFoundException($"{path}: folder '{folder}' does not exist.");
        }

        switch (TableFormats.Of(path))
        {
            case TableFormat.Parquet:
                return ParquetTable.Save(data, full, progress, cancellation);
            case TableFormat.Sqlite:
                return SqliteTable.Save(data, full, table, progress, cancellation);
        }

        string temp = full + $".tmp-{Guid.NewGuid():N}";
        try
        {
            long rows = -1;
            using (FileStream stream = File.Create(temp))
            {
                if (TableFormats.Of(path) == TableFormat.JsonLines)
                {
                    rows = JsonLinesTable.Save(data, stream, progress, cancellation);
                }
                else
                {
                    _mlContext.Data.SaveAsText(data, stream, separatorChar: '\t', headerRow: true, schema: false);
                }
            }

            File.Move(temp, full, overwrite: true);
            return rows;
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>Writes a table to <paramref name="output"/> as JSON lines (one object per row), streaming.</summary>
    public long SaveTable(IDataView data, Stream output, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(output);
        return JsonLinesTable.Save(data, output, null, cancellation);
    }

    /// <summary>
    /// The generated demo catalogue (three domains, beauty, office and kitchen, with titles, brands, categories and
    /// learnable routines: users tend to stay with a brand and move along its product line) as an interactions table and
    /// an item table. Deterministic given <paramref name="seed"/>.
    /// </summary>
    public InteractionTables GenerateDemo(int usersPerDomain = 600, ulong seed = 42)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(usersPerDomain);
        return InteractionTableFactory.Demo(_mlContext, usersPerDomain, seed);
    }

    /// <summary>
    /// Tables from datasets read by the library's readers (normalized folders, RecBole, MovieLens, Amazon, SQLite stores):
    /// the interactions of all of them, and one catalogue whose <c>Domain</c> is each item's domain, for CALRec's
    /// mixture. A dataset named twice is used once. The first dataset (the target) keeps its ids; the user and item ids
    /// of the others are qualified as <c>name/id</c>, because independent datasets reuse ids such as "1".
    /// </summary>
    public InteractionTables FromDatasets(IEnumerable<InteractionDataset> datasets)
    {
        ArgumentNullException.ThrowIfNull(datasets);
        return InteractionTableFactory.FromDatasets(_mlContext, datasets);
    }

    private IDataView Cases(IDataView interactions, SequentialRecommenderOptions? options, string? domain, bool validation)
    {
        ArgumentNullException.ThrowIfNull(interactions);
        options ??= new MostPopularEstimatorOptions();
        options.Validate();
        InteractionDataset data = InteractionTable.Read(interactions, options);
        if (domain is not null)
        {
            data = SequentialRecommendationTrainers.TargetAndMixture(data, domain).Target;
        }

        var split = new LeaveOneOutSplit(data);
        var rows = (validation ? split.Validation : split.Test).Select(c => new EvaluationRow
        {
            UserId = data.Users[c.User],
            History = c.History.Select(i => data.Items[i].Id).ToArray(),
            Label = data.Items[c.Target].Id,
        }).ToList();
        SchemaDefinition schema = SchemaDefinition.Create(typeof(EvaluationRow));
        schema[nameof(EvaluationRow.UserId)].ColumnName = options.UserIdColumnName;
        schema[nameof(EvaluationRow.History)].ColumnName = options.HistoryColumnName;
        return _mlContext.Data.LoadFromEnumerable(rows, schema);
    }
}
