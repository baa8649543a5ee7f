using System.Diagnostics;
using CalRec.Data;
using CalRec.Bench;
using CalRec.Text.Retrieval;

namespace CalRec.Bench;

/// <summary>
/// BM25 top-20 retrieval over item texts, the project's index against SQLite FTS5 (<c>bm25()</c>, the same OR query of
/// the analyzer's terms), one thread each. Queries are the first eight words of item titles, like generated item text.
/// </summary>
internal static class Bm25Benchmark
{
    private const int TopK = 20;

    public static IEnumerable<BenchResult> Run(string? dataPath, int queryCount)
    {
        (InteractionDataset data, string name) = BenchData.Load(dataPath, "amazon-beauty", 7);
        IReadOnlyList<string> texts = data.Items.Select(i => i.Title).ToList();
        var g = new Tensors.SeededRandom(5);
        string[] queries = Enumerable.Range(0, queryCount).Select(_ => string.Join(' ', texts[g.NextInt(texts.Count)].Split(' ', StringSplitOptions.RemoveEmptyEntries).Take(8))).ToArray();

        var build = Stopwatch.StartNew();
        var index = new Bm25Index();
        index.AddRange(texts);
        double buildSeconds = build.Elapsed.TotalSeconds;
        int[] docs = new int[TopK];
        float[] scores = new float[TopK];
        long hits = 0;
        foreach (string q in queries.Take(200))
        {
            index.Search(q, docs, scores);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread();
        var sw = Stopwatch.StartNew();
        foreach (string q in queries)
        {
            hits += index.Search(q, docs, scores);
        }

        double ours = sw.Elapsed.TotalSeconds;
        long bytesPerQuery = (GC.GetAllocatedBytesForCurrentThread() - allocated) / queries.Length;
        yield return new BenchResult
        {
            Name = "bm25-calrec",
            Config = $"{name}: {texts.Count:N0} docs, top {TopK}, index built in {buildSeconds:F2} s, {bytesPerQuery} B allocated/query",
            Threads = 1,
            QueriesPerSecond = Math.Round(queries.Length / ours, 0),
            Seconds = Math.Round(ours / queries.Length, 7),
        };

        using var fts5 = new SqliteFullTextIndex(texts, TopK);
        var termLists = queries.Select(WordAnalyzer.Terms).ToArray();
        long ftsHits = 0;
        sw.Restart();
        foreach (List<string> terms in termLists)
        {
            ftsHits += fts5.Search(terms).Count;
        }

        double fts = sw.Elapsed.TotalSeconds;
        yield return new BenchResult
        {
            Name = "bm25-sqlite-fts5",
            Config = $"{name}: same queries; {(double)ftsHits / queries.Length:F1} hits/query (ours {(double)hits / queries.Length:F1}); ours is {fts / ours:F1}x faster",
            Threads = 1,
            QueriesPerSecond = Math.Round(queries.Length / fts, 0),
            Seconds = Math.Round(fts / queries.Length, 7),
        };
    }
}
