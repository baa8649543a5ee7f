using System.Text.Json;
using CalRec.Data;
using Microsoft.Data.Sqlite;
using Microsoft.ML;

namespace CalRec.MLNet.Tests;

public sealed class BatchScoringTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("calrec-batch-").FullName;

    [TearDown]
    public void TearDown()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    private sealed class Scored
    {
        public string UserId { get; set; } = "";

        public string[] History { get; set; } = [];

        public string[] PredictedItemIds { get; set; } = [];

        public float[] Scores { get; set; } = [];
    }

    private static (MLContext Ml, InteractionDataset Data, SequentialRecommendationTransformer Model) Trained()
    {
        var ml = new MLContext(seed: 1);
        InteractionDataset data = Tables.Synthetic(40);
        return (ml, data, ml.SequentialRecommendation().Trainers.MostPopular().Fit(ml.View(Tables.Interactions(data))));
    }

    private static List<ModelInput> Histories(InteractionDataset data, int count) =>
        Enumerable.Range(0, count).Select(u => new ModelInput
        {
            UserId = $"u{u}",
            History = data.Sequences[u % data.Sequences.Count].Take(1 + (u % 7)).Select(i => data.Items[i].Id).ToArray(),
        }).ToList();

    [Test]
    public void EveryInputFormatGivesTheSameRecommendations()
    {
        (MLContext ml, InteractionDataset data, SequentialRecommendationTransformer model) = Trained();
        List<ModelInput> inputs = Histories(data, 300);
        string tsv = Path.Combine(_dir, "h.tsv"), csv = Path.Combine(_dir, "h.csv"), jsonl = Path.Combine(_dir, "h.jsonl"), db = Path.Combine(_dir, "h.db"), parquet = Path.Combine(_dir, "h.parquet");
        File.WriteAllLines(tsv, inputs.Select(i => $"{i.UserId}\t{string.Join(' ', i.History)}").Prepend("UserId\tHistory"));
        File.WriteAllLines(csv, inputs.Select(i => $"{i.UserId},\"{string.Join(' ', i.History)}\"").Prepend("UserId,History"));
        File.WriteAllLines(jsonl, inputs.Select(i => JsonSerializer.Serialize(new { user = i.UserId, items = i.History })));
        WriteSqlite(db, inputs);
        ml.SequentialRecommendation().Data.SaveTable(ml.View(inputs), parquet);

        var expected = Read(ml, model.Transform(ml.View(inputs)));
        foreach (string path in new[] { tsv, csv, jsonl, db, parquet })
        {
            var got = Read(ml, model.Transform(ml.SequentialRecommendation().Data.LoadHistories(path)));
            Assert.That(got.Select(r => (r.UserId, string.Join(' ', r.History), string.Join(' ', r.PredictedItemIds))),
                Is.EqualTo(expected.Select(r => (r.UserId, string.Join(' ', r.History), string.Join(' ', r.PredictedItemIds)))), Path.GetExtension(path));
        }
    }

    [Test]
    public void ScoredTablesRoundTripThroughParquetAcrossRowGroupsAndIntoSqlite()
    {
        (MLContext ml, InteractionDataset data, SequentialRecommendationTransformer model) = Trained();
        IDataView scored = model.Transform(ml.View(Histories(data, 40_000)));
        string parquet = Path.Combine(_dir, "scored.parquet"), db = Path.Combine(_dir, "out.db"), jsonl = Path.Combine(_dir, "scored.jsonl");
        var reports = new List<long>();

        long written = ml.SequentialRecommendation().Data.SaveTable(scored, parquet, progress: new SyncProgress(reports.Add));
        var expected = Read(ml, scored);
        var back = Read(ml, ml.SequentialRecommendation().Data.LoadHistories(parquet));

        Assert.That(written, Is.EqualTo(40_000));
        Assert.That(reports, Has.Count.GreaterThan(2), "progress after each row group");
        Assert.That(reports[^1], Is.EqualTo(40_000));
        Assert.That(back.Count, Is.EqualTo(expected.Count));
        Assert.That(back.Select(r => (r.UserId, string.Join(' ', r.History), string.Join(' ', r.PredictedItemIds), string.Join(' ', r.Scores))),
            Is.EqualTo(expected.Select(r => (r.UserId, string.Join(' ', r.History), string.Join(' ', r.PredictedItemIds), string.Join(' ', r.Scores)))));

        Assert.That(ml.SequentialRecommendation().Data.SaveTable(scored, db, "recs"), Is.EqualTo(40_000));
        using (var conn = new SqliteConnection($"Data Source={db}"))
        {
            conn.Open();
            using SqliteCommand cmd = conn.CreateCommand();
            cmd.CommandText = "SELECT UserId, PredictedItemIds FROM recs WHERE rowid = 1234";
            using SqliteDataReader reader = cmd.ExecuteReader();
            Assert.That(reader.Read(), Is.True);
            Assert.That(reader.GetString(0), Is.EqualTo(expected[1233].UserId));
            Assert.That(reader.GetString(1).Split(' '), Is.EqualTo(expected[1233].PredictedItemIds));
        }

        // The written table is a history table the SQLite loader reads back.
        var again = Read(ml, ml.SequentialRecommendation().Data.LoadHistories(db, "SELECT UserId, History FROM recs"));
        Assert.That(again.Select(r => string.Join(' ', r.History)), Is.EqualTo(expected.Select(r => string.Join(' ', r.History))));

        ml.SequentialRecommendation().Data.SaveTable(scored, jsonl);
        string[] lines = File.ReadAllLines(jsonl);
        Assert.That(lines, Has.Length.EqualTo(40_000));
        using JsonDocument first = JsonDocument.Parse(lines[0]);
        Assert.That(first.RootElement.GetProperty("PredictedItemIds").EnumerateArray().Select(e => e.GetString()), Is.EqualTo(expected[0].PredictedItemIds));
        Assert.That(Directory.GetFiles(_dir).Select(Path.GetFileName), Is.EquivalentTo(new[] { "scored.parquet", "out.db", "scored.jsonl" }), "no temporary files left");
    }

    [Test]
    public void EmptyListsRoundTripThroughParquetAsEmptyListsNotNulls()
    {
        var ml = new MLContext(seed: 1);
        var rows = new List<ListRow>
        {
            new() { UserId = "a", History = [], Scores = [] },
            new() { UserId = "b", History = ["i1", "i2"], Scores = [0.5f] },
            new() { UserId = "c", History = [], Scores = [1f, 2f, 3f] },
            new() { UserId = "d", History = ["i3"], Scores = [] },
        };
        string path = Path.Combine(_dir, "lists.parquet");

        Assert.That(ml.SequentialRecommendation().Data.SaveTable(ml.View(rows), path), Is.EqualTo(4));
        var back = ml.Data.CreateEnumerable<ListRow>(ml.SequentialRecommendation().Data.LoadHistories(path), reuseRowObject: false).ToList();

        Assert.That(back.Select(r => r.UserId), Is.EqualTo(rows.Select(r => r.UserId)));
        Assert.That(back.Select(r => r.History), Is.EqualTo(rows.Select(r => r.History)));
        Assert.That(back.Select(r => r.Scores), Is.EqualTo(rows.Select(r => r.Scores)));
    }

    private sealed class ListRow
    {
        public string UserId { get; set; } = "";

        public string[] History { get; set; } = [];

        public float[] Scores { get; set; } = [];
    }

    [Test]
    public void ASqliteQueryWithColumnsInAnotherOrderIsRefusedNotSwapped()
    {
        (MLContext ml, InteractionDataset data, _) = Trained();
        string db = Path.Combine(_dir, "h.db");
        WriteSqlite(db, Histories(data, 5));

        var error = Assert.Throws<InvalidDataException>(() => ml.SequentialRecommendation().Data.LoadHistories(db, "SELECT History, UserId FROM histories"))!;
        Assert.That(error.Message, Does.Contain("binds by position").And.Contain("(History, UserId)").And.Contain("SELECT UserId, History FROM"));
        Assert.That(Assert.Throws<InvalidDataException>(() => ml.SequentialRecommendation().Data.LoadHistories(db, "SELECT nope FROM histories"))!.Message, Does.Contain("the query failed"));
        IDataView aliased = ml.SequentialRecommendation().Data.LoadHistories(db, "SELECT user_name AS UserId, History FROM (SELECT UserId AS user_name, History FROM histories)");
        Assert.That(Read(ml, aliased).Select(r => r.UserId), Is.EqualTo(new[] { "u0", "u1", "u2", "u3", "u4" }));
    }

    [Test]
    public void UnknownFormatsAndMissingFilesAreClearErrors()
    {
        (MLContext ml, _, _) = Trained();
        Assert.That(Assert.Throws<FileNotFoundException>(() => ml.SequentialRecommendation().Data.LoadHistories(Path.Combine(_dir, "none.parquet")))!.Message, Does.Contain("file not found"));
        File.WriteAllText(Path.Combine(_dir, "x.xlsx"), "");
        Assert.That(Assert.Throws<ArgumentException>(() => ml.SequentialRecommendation().Data.LoadHistories(Path.Combine(_dir, "x.xlsx")))!.Message, Does.Contain("unknown table format '.xlsx'"));
        File.WriteAllText(Path.Combine(_dir, "bad.parquet"), "not parquet");
        Assert.That(Assert.Throws<InvalidDataException>(() => ml.SequentialRecommendation().Data.LoadHistories(Path.Combine(_dir, "bad.parquet")))!.Message, Does.Contain("not a readable Parquet file"));
    }

    private static void WriteSqlite(string path, List<ModelInput> inputs)
    {
        using var conn = new SqliteConnection($"Data Source={path}");
        conn.Open();
        using SqliteCommand create = conn.CreateCommand();
        create.CommandText = "CREATE TABLE histories (UserId TEXT, History TEXT)";
        create.ExecuteNonQuery();
        foreach (ModelInput i in inputs)
        {
            using SqliteCommand insert = conn.CreateCommand();
            insert.CommandText = "INSERT INTO histories VALUES ($u, $h)";
            insert.Parameters.AddWithValue("$u", i.UserId);
            insert.Parameters.AddWithValue("$h", string.Join(' ', i.History));
            insert.ExecuteNonQuery();
        }
    }

    private static List<Scored> Read(MLContext ml, IDataView view) => ml.Data.CreateEnumerable<Scored>(view, reuseRowObject: false, ignoreMissingColumns: true).ToList();

    private sealed class SyncProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
