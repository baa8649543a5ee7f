using System.Globalization;
using CalRec.Data;
using Microsoft.Data.Sqlite;

namespace CalRec.Data.Storage;

/// <summary>
/// The embedded store: a dataset in one SQLite database file with tables <c>items</c>, <c>users</c> and
/// <c>interactions</c> (one row per history position, indexed by user and by item) plus a <c>meta</c> table holding
/// the schema version and dataset name. Every command that takes a dataset accepts such a <c>.db</c> file.
/// </summary>
public static class SqliteStore
{
    /// <summary>The schema version this code writes and reads.</summary>
    public const int SchemaVersion = 1;

    private const string Schema = """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE items (item_index INTEGER PRIMARY KEY, item_id TEXT NOT NULL UNIQUE, title TEXT NOT NULL, extra TEXT NOT NULL, domain TEXT);
        CREATE TABLE users (user_index INTEGER PRIMARY KEY, user_id TEXT NOT NULL UNIQUE);
        CREATE TABLE interactions (user_index INTEGER NOT NULL REFERENCES users, position INTEGER NOT NULL,
            item_index INTEGER NOT NULL REFERENCES items, timestamp INTEGER, PRIMARY KEY (user_index, position)) WITHOUT ROWID;
        CREATE INDEX interactions_by_item ON interactions (item_index);
        """;

    /// <summary>
    /// Writes <paramref name="data"/> to a new database at <paramref name="path"/>, atomically: the database is built in
    /// a temporary file beside it and renamed over the target only when complete.
    /// </summary>
    public static void Save(InteractionDataset data, string path)
    {
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string temp = full + $".tmp-{Environment.ProcessId}";
        File.Delete(temp);
        try
        {
            using (var db = Open(temp, SqliteOpenMode.ReadWriteCreate))
            {
                using SqliteTransaction tx = db.BeginTransaction();
                Execute(db, tx, Schema);
                Insert(db, tx, "INSERT INTO meta VALUES ($a, $b)", [["schema_version", SchemaVersion.ToString(CultureInfo.InvariantCulture)], ["name", data.Name]]);
                Insert(db, tx, "INSERT INTO items VALUES ($a, $b, $c, $d, $e)",
                    data.Items.Select((item, i) => new object?[] { i, item.Id, item.Title, item.Extra, item.Domain }));
                Insert(db, tx, "INSERT INTO users VALUES ($a, $b)", data.Users.Select((u, i) => new object?[] { i, u }));
                Insert(db, tx, "INSERT INTO interactions VALUES ($a, $b, $c, $d)", Enumerable.Range(0, data.Sequences.Count)
                    .SelectMany(u => data.Sequences[u].Select((item, k) => new object?[] { u, k, item, data.Timestamps?[u][k] })));
                tx.Commit();
            }

            SqliteConnection.ClearAllPools();
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            File.Delete(temp);
        }
    }

    /// <summary>Reads a database written by <see cref="Save"/>.</summary>
    public static InteractionDataset Load(string path, BadRecordPolicy policy = BadRecordPolicy.Fail)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path}: database not found.", path);
        }

        try
        {
            using SqliteConnection db = Open(path, SqliteOpenMode.ReadOnly);
            var meta = new Dictionary<string, string>(StringComparer.Ordinal);
            using (SqliteDataReader r = Query(db, path, "SELECT key, value FROM meta"))
            {
                while (r.Read())
                {
                    meta[r.GetString(0)] = r.GetString(1);
                }
            }

            if (!meta.TryGetValue("schema_version", out string? version) || !int.TryParse(version, CultureInfo.InvariantCulture, out int v) || v > SchemaVersion)
            {
                throw new DataFormatException(path, 0, "meta.schema_version", $"schema version '{version}' is not one this version reads (up to {SchemaVersion})");
            }

            var items = new List<CatalogItem>();
            using (SqliteDataReader r = Query(db, path, "SELECT item_index, item_id, title, extra, domain FROM items ORDER BY item_index"))
            {
                while (r.Read())
                {
                    if (r.GetInt64(0) != items.Count)
                    {
                        throw new DataFormatException(path, r.GetInt64(0), "items.item_index", $"item indices must be 0..n-1 without gaps; found {r.GetInt64(0)} at position {items.Count}");
                    }

                    items.Add(new CatalogItem(r.GetString(1), r.GetString(2), r.GetString(3), r.IsDBNull(4) ? null : r.GetString(4)));
                }
            }

            var users = new List<string>();
            using (SqliteDataReader r = Query(db, path, "SELECT user_id FROM users ORDER BY user_index"))
            {
                while (r.Read())
                {
                    users.Add(r.GetString(0));
                }
            }

            return InteractionDataset.FromReader(meta.GetValueOrDefault("name") ?? Path.GetFileNameWithoutExtension(path), items, ReadSequences(db, path, items, users), path, policy, []);
        }
        catch (SqliteException ex)
        {
            throw new DataFormatException(path, 0, "(database)", $"not a CalRec dataset database ({ex.Message})");
        }
    }

    private static IEnumerable<UserSequence> ReadSequences(SqliteConnection db, string path, List<CatalogItem> items, List<string> users)
    {
        using SqliteDataReader r = Query(db, path, "SELECT user_index, item_index, timestamp FROM interactions ORDER BY user_index, position");
        int current = -1;
        var ids = new List<string>();
        var times = new List<long>();
        bool timed = true;
        while (r.Read())
        {
            int u = r.GetInt32(0), item = r.GetInt32(1);
            if (u != current && current >= 0)
            {
                yield return new UserSequence(users[current], [.. ids], timed ? [.. times] : null);
                ids.Clear();
                times.Clear();
                timed = true;
            }

            current = u;
            if ((uint)u >= (uint)users.Count || (uint)item >= (uint)items.Count)
            {
                throw new DataFormatException(path, 0, "interactions", $"row (user_index {u}, item_index {item}) points outside the users or items table");
            }

            ids.Add(items[item].Id);
            timed &= !r.IsDBNull(2);
            times.Add(r.IsDBNull(2) ? 0 : r.GetInt64(2));
        }

        if (current >= 0)
        {
            yield return new UserSequence(users[current], [.. ids], timed ? [.. times] : null);
        }
    }

    private static SqliteConnection Open(string path, SqliteOpenMode mode)
    {
        var db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = mode, Pooling = false }.ToString());
        db.Open();
        return db;
    }

    private static SqliteDataReader Query(SqliteConnection db, string path, string sql)
    {
        SqliteCommand cmd = db.CreateCommand();
        cmd.CommandText = sql;
        return cmd.ExecuteReader();
    }

    private static void Execute(SqliteConnection db, SqliteTransaction tx, string sql)
    {
        using SqliteCommand cmd = db.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    private static void Insert(SqliteConnection db, SqliteTransaction tx, string sql, IEnumerable<object?[]> rows)
    {
        using SqliteCommand cmd = db.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        SqliteParameter[]? parameters = null;
        foreach (object?[] row in rows)
        {
            if (parameters is null)
            {
                parameters = row.Select((_, k) => cmd.Parameters.Add(new SqliteParameter("$" + (char)('a' + k), null))).ToArray();
                cmd.Prepare();
            }

            for (int k = 0; k < row.Length; k++)
            {
                parameters[k].Value = row[k] ?? DBNull.Value;
            }

            cmd.ExecuteNonQuery();
        }
    }
}
