using System.Data;
using Microsoft.Data.Sqlite;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace CalRec.MLNet.Tables;

/// <summary>A history table row as SQLite (or a delimited file) holds it: the history is one text of space-separated item ids.</summary>
public sealed class HistoryTextRow
{
    /// <summary>The user.</summary>
    [LoadColumn(0)]
    public string UserId { get; set; } = "";

    /// <summary>Item ids separated by spaces, oldest first.</summary>
    [LoadColumn(1)]
    public string HistoryText { get; set; } = "";
}

/// <summary>
/// SQLite tables through ML.NET's <c>DatabaseLoader</c> (reading) and one transaction of prepared inserts (writing).
/// The loader binds columns by position, so a query whose columns come in another order would silently swap values:
/// the query's column names are checked against the expected ones first.
/// </summary>
internal static class SqliteTable
{
    internal static readonly string[] HistoryQueryColumns = [DefaultColumnNames.UserId, DefaultColumnNames.History];

    /// <summary>A lazy history table from <paramref name="query"/> over the database at <paramref name="path"/>.</summary>
    internal static IDataView LoadHistories(MLContext ml, string path, string query, RecommendationColumns columns)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path}: database not found.", path);
        }

        string connection = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly }.ToString();
        string[] expected = [columns.UserIdColumnName, columns.HistoryColumnName];
        CheckColumnOrder(connection, path, query, expected);
        DatabaseLoader loader = ml.Data.CreateDatabaseLoader<HistoryTextRow>();
        IDataView rows = loader.Load(new DatabaseSource(SqliteFactory.Instance, connection, query));
        return HistoryTexts.ToHistories(ml, rows, columns);
    }

    /// <summary>
    /// Writes the visible columns of <paramref name="data"/> to table <paramref name="table"/> of the database at
    /// <paramref name="path"/> (created if missing), replacing the table in one transaction: readers see the old table or
    /// the complete new one. Vectors are stored as space-separated text, the layout <see cref="LoadHistories"/> reads.
    /// </summary>
    internal static long Save(IDataView data, string path, string table, IProgress<long>? progress = null, CancellationToken cancellation = default)
    {
        if (string.IsNullOrWhiteSpace(table) || table.Any(ch => !(char.IsLetterOrDigit(ch) || ch == '_')))
        {
            throw new ArgumentException($"'{table}' is not a plain table name (letters, digits, underscore).", nameof(table));
        }

        var columns = data.Schema.Where(c => !c.IsHidden).ToList();
        string[] sqlTypes = columns.Select(c => SqlType(c)).ToArray();
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate }.ToString());
        connection.Open();
        using SqliteTransaction transaction = connection.BeginTransaction();
        Execute(connection, transaction, $"DROP TABLE IF EXISTS \"{table}\"");
        Execute(connection, transaction, $"CREATE TABLE \"{table}\" ({string.Join(", ", columns.Select((c, i) => $"\"{c.Name.Replace("\"", "\"\"", StringComparison.Ordinal)}\" {sqlTypes[i]}"))})");
        using SqliteCommand insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = $"INSERT INTO \"{table}\" VALUES ({string.Join(", ", columns.Select((_, i) => $"$p{i}"))})";
        var parameters = columns.Select((_, i) => insert.Parameters.Add($"$p{i}", SqliteType.Text)).ToArray();
        insert.Prepare();
        using DataViewRowCursor cursor = data.GetRowCursor(columns);
        Func<object>[] getters = columns.Select(c => Getter(cursor, c)).ToArray();
        long rows = 0;
        while (cursor.MoveNext())
        {
            cancellation.ThrowIfCancellationRequested();
            for (int i = 0; i < getters.Length; i++)
            {
                parameters[i].Value = getters[i]();
            }

            insert.ExecuteNonQuery();
            if (++rows % 10_000 == 0)
            {
                progress?.Report(rows);
            }
        }

        transaction.Commit();
        progress?.Report(rows);
        return rows;
    }

    private static void CheckColumnOrder(string connection, string path, string query, string[] expected)
    {
        using var conn = new SqliteConnection(connection);
        conn.Open();
        using SqliteCommand command = conn.CreateCommand();
        command.CommandText = query;
        string[] names;
        try
        {
            using SqliteDataReader reader = command.ExecuteReader(CommandBehavior.SchemaOnly);
            names = Enumerable.Range(0, reader.FieldCount).Select(reader.GetName).ToArray();
        }
        catch (SqliteException ex)
        {
            throw new InvalidDataException($"{path}: the query failed: {ex.Message}", ex);
        }

        if (names.Length < expected.Length || !expected.Select((e, i) => string.Equals(names[i], e, StringComparison.OrdinalIgnoreCase)).All(ok => ok))
        {
            throw new InvalidDataException($"{path}: the query's columns are ({string.Join(", ", names)}) but the loader binds by position and expects ({string.Join(", ", expected)}) first: select them in that order, e.g. SELECT {string.Join(", ", expected)} FROM ...");
        }
    }

    private static void Execute(SqliteConnection connection, SqliteTransaction transaction, string sql)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static string SqlType(DataViewSchema.Column c) => c.Type switch
    {
        VectorDataViewType or TextDataViewType => "TEXT",
        _ when c.Type == NumberDataViewType.Single || c.Type == NumberDataViewType.Double => "REAL",
        _ when ColumnReader.IsNumber(c.Type) || c.Type is BooleanDataViewType => "INTEGER",
        _ => throw new ArgumentOutOfRangeException(nameof(c), $"column '{c.Name}' has type {ColumnReader.Describe(c.Type)}; the SQLite writer takes text, numbers, booleans and vectors of them."),
    };

    private static Func<object> Getter(DataViewRow row, DataViewSchema.Column c)
    {
        switch (c.Type)
        {
            case TextDataViewType:
            {
                ValueGetter<ReadOnlyMemory<char>> g = row.GetGetter<ReadOnlyMemory<char>>(c);
                ReadOnlyMemory<char> v = default;
                return () =>
                {
                    g(ref v);
                    return v.ToString();
                };
            }

            case BooleanDataViewType:
            {
                ValueGetter<bool> g = row.GetGetter<bool>(c);
                bool v = false;
                return () =>
                {
                    g(ref v);
                    return v ? 1 : 0;
                };
            }

            case VectorDataViewType { ItemType: TextDataViewType }:
            {
                ValueGetter<VBuffer<ReadOnlyMemory<char>>> g = row.GetGetter<VBuffer<ReadOnlyMemory<char>>>(c);
                VBuffer<ReadOnlyMemory<char>> v = default;
                return () =>
                {
                    g(ref v);
                    var text = new System.Text.StringBuilder();
                    foreach (ReadOnlyMemory<char> s in v.DenseValues())
                    {
                        if (s.Span.IndexOfAny(" \t\r\n") >= 0)
                        {
                            throw new InvalidDataException($"column '{c.Name}': the value '{s}' contains whitespace, which the space-separated SQLite layout cannot hold.");
                        }

                        text.Append(text.Length == 0 ? "" : " ").Append(s.Span);
                    }

                    return text.ToString();
                };
            }

            case VectorDataViewType { ItemType: var item } when item == NumberDataViewType.Single:
            {
                ValueGetter<VBuffer<float>> g = row.GetGetter<VBuffer<float>>(c);
                VBuffer<float> v = default;
                return () =>
                {
                    g(ref v);
                    return string.Join(' ', v.DenseValues().Select(f => f.ToString("R", System.Globalization.CultureInfo.InvariantCulture)));
                };
            }

            case VectorDataViewType:
                throw new ArgumentOutOfRangeException(nameof(c), $"column '{c.Name}' has type {ColumnReader.Describe(c.Type)}; the SQLite writer takes vectors of text or float.");

            default:
            {
                Func<double> g = ColumnReader.OrderGetter(row, c);
                bool integral = c.Type != NumberDataViewType.Single && c.Type != NumberDataViewType.Double;
                return () => integral ? (long)g() : g();
            }
        }
    }
}

/// <summary>Text histories (space-separated ids) to vector histories, lazily, with ML.NET's own word tokenizer.</summary>
internal static class HistoryTexts
{
    internal static IDataView ToHistories(MLContext ml, IDataView rows, RecommendationColumns columns)
    {
        IDataView named = rows;
        if (columns.UserIdColumnName != nameof(HistoryTextRow.UserId))
        {
            named = ml.Transforms.CopyColumns(columns.UserIdColumnName, nameof(HistoryTextRow.UserId)).Fit(named).Transform(named);
        }

        return ml.Transforms.Text.TokenizeIntoWords(columns.HistoryColumnName, nameof(HistoryTextRow.HistoryText), [' ']).Fit(named).Transform(named);
    }
}
