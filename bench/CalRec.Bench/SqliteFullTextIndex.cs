using Microsoft.Data.Sqlite;

namespace CalRec.Bench;

/// <summary>
/// An in-memory SQLite FTS5 table over a list of texts, searched with FTS5's own <c>bm25()</c>: the reference that the
/// project's BM25 index is checked and benchmarked against. Document i has rowid i + 1.
/// </summary>
public sealed class SqliteFullTextIndex : IDisposable
{
    private readonly SqliteConnection _db;
    private readonly SqliteCommand _search;
    private readonly SqliteParameter _query;

    /// <summary>Indexes <paramref name="texts"/> (one FTS5 column, default unicode61 tokenizer).</summary>
    public SqliteFullTextIndex(IEnumerable<string> texts, int topK)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(topK);
        _db = new SqliteConnection("Data Source=:memory:");
        _db.Open();
        using (SqliteCommand create = _db.CreateCommand())
        {
            create.CommandText = "CREATE VIRTUAL TABLE docs USING fts5(body)";
            create.ExecuteNonQuery();
        }

        using (SqliteTransaction tx = _db.BeginTransaction())
        using (SqliteCommand insert = _db.CreateCommand())
        {
            insert.CommandText = "INSERT INTO docs(body) VALUES ($body)";
            SqliteParameter body = insert.Parameters.Add("$body", SqliteType.Text);
            foreach (string t in texts)
            {
                body.Value = t;
                insert.ExecuteNonQuery();
            }

            tx.Commit();
        }

        _search = _db.CreateCommand();
        _search.CommandText = $"SELECT rowid - 1, bm25(docs) FROM docs WHERE docs MATCH $q ORDER BY bm25(docs), rowid LIMIT {topK}";
        _query = _search.Parameters.Add("$q", SqliteType.Text);
    }

    /// <summary>
    /// The best documents for the OR of <paramref name="terms"/> (each quoted as a phrase), best first, with FTS5's score
    /// negated so that higher is better.
    /// </summary>
    public List<(int Document, double Score)> Search(IEnumerable<string> terms)
    {
        string match = string.Join(" OR ", terms.Select(t => "\"" + t.Replace("\"", "\"\"", StringComparison.Ordinal) + "\""));
        var hits = new List<(int, double)>();
        if (match.Length == 0)
        {
            return hits;
        }

        _query.Value = match;
        using SqliteDataReader r = _search.ExecuteReader();
        while (r.Read())
        {
            hits.Add((r.GetInt32(0), -r.GetDouble(1)));
        }

        return hits;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _search.Dispose();
        _db.Dispose();
    }
}
