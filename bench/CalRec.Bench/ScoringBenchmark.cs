using System.Diagnostics;
using CalRec.Data;
using CalRec.Data.Synthetic;
using CalRec.MLNet;
using CalRec.Recommenders;
using CalRec.Recommenders.SasRec;
using CalRec.Tensors.Threading;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace CalRec.Bench;

/// <summary>
/// Batch scoring through ML.NET against the library's own scorer on the same model and histories: users/s of
/// <see cref="RecommenderModel.Transform"/> (direct, in-process) and of the transformer's lazy <c>Transform</c> over an
/// <see cref="IDataView"/> (every output row read through a cursor), in interleaved rounds; a PredictionEngine's
/// single-user latency; and, with <c>streamUsers</c>, a generated table of that many users streamed from
/// <c>LoadFromEnumerable</c> through <c>Transform</c> into a Parquet file, with the process's peak working set. Model:
/// SASRec (d = 64, 50 items of history) fitted for one epoch on amazon-beauty (the weights do not change the cost), or
/// on a synthetic catalogue without ../shared.
/// </summary>
internal static class ScoringBenchmark
{
    public static IEnumerable<BenchResult> Run(string? dataPath, int rounds, long streamUsers)
    {
        var ml = new MLContext(seed: 1);
        (InteractionDataset data, SequentialRecommendationTransformer transformer) = BenchModels.SasRecOneEpoch(ml, dataPath);
        RecommenderModel model = transformer.Model;
        string config = $"{data.Name},users={data.Users.Count},items={model.ItemCount},{model.Kind},k=10";

        if (streamUsers > 0)
        {
            yield return Stream(ml, transformer, streamUsers, config);
            yield break;
        }

        var users = data.Users.Select((u, i) => new UserHistory(u, data.Sequences[i].Select(j => data.Items[j].Id).ToList())).ToList();
        IDataView table = ml.Data.LoadFromEnumerable(users.Select(u => new HistoryRow { UserId = u.UserId, History = [.. u.ItemIds] }).ToList());
        var direct = new List<double>();
        var viaTable = new List<double>();
        for (int round = 0; round < rounds; round++)
        {
            var sw = Stopwatch.StartNew();
            long n = model.Transform(users, k: 10).LongCount();
            direct.Add(n / sw.Elapsed.TotalSeconds);

            sw.Restart();
            n = ReadAll(transformer.Transform(table));
            viaTable.Add(n / sw.Elapsed.TotalSeconds);
        }

        yield return Row("score-direct", config + $",rounds={rounds}", Median(direct), users.Count / Median(direct));
        yield return Row("score-idataview", config + $",rounds={rounds}", Median(viaTable), users.Count / Median(viaTable));

        PredictionEngine<HistoryRow, RecommendationRow> engine = ml.Model.CreatePredictionEngine<HistoryRow, RecommendationRow>(transformer);
        var latencies = new List<double>();
        for (int i = 0; i < 2_000 + 100; i++)
        {
            var input = new HistoryRow { UserId = users[i % users.Count].UserId, History = [.. users[i % users.Count].ItemIds] };
            long start = Stopwatch.GetTimestamp();
            engine.Predict(input);
            if (i >= 100)
            {
                latencies.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }
        }

        latencies.Sort();
        yield return Row("predictionengine", config + ",calls=2000", 1_000 / latencies.Average(), latencies.Sum() / 1_000) with
        {
            LatencyP50Ms = Math.Round(latencies[latencies.Count / 2], 3),
            LatencyP99Ms = Math.Round(latencies[(int)(latencies.Count * 0.99)], 3),
        };
    }

    // Generated histories (8 catalogue items each, seeded) streamed lazily through Transform into a Parquet file.
    private static BenchResult Stream(MLContext ml, SequentialRecommendationTransformer transformer, long count, string config)
    {
        IReadOnlyList<CatalogItem> catalog = transformer.Model.Catalog;
        IEnumerable<HistoryRow> Generate()
        {
            var g = new Tensors.SeededRandom(7);
            for (long u = 0; u < count; u++)
            {
                var history = new string[8];
                for (int k = 0; k < history.Length; k++)
                {
                    history[k] = catalog[g.NextInt(catalog.Count)].Id;
                }

                yield return new HistoryRow { UserId = $"u{u}", History = history };
            }
        }

        string path = Path.Combine(Path.GetTempPath(), $"calrec-bench-score-{Guid.NewGuid():N}.parquet");
        try
        {
            using var memory = new PeakMemorySampler();
            double startMb = Process.GetCurrentProcess().WorkingSet64 / 1048576.0;
            long startHeap = GC.GetTotalMemory(forceFullCollection: true);
            var sw = Stopwatch.StartNew();
            long rows = ml.SequentialRecommendation().Data.SaveTable(transformer.Transform(ml.Data.LoadFromEnumerable(Generate())), path);
            double seconds = sw.Elapsed.TotalSeconds;
            double liveGrowthMb = (GC.GetTotalMemory(forceFullCollection: true) - startHeap) / 1048576.0;
            // The start figure is what the process held before streaming (dataset, model, runtime): growth = peak - start.
            return Row("score-stream-parquet", config + $",stream_users={count},history=8,start_working_set_mb={startMb:F1},live_heap_growth_mb={liveGrowthMb:F1}", rows / seconds, seconds) with { PeakWorkingSetMb = Math.Round(memory.PeakMegabytes, 1) };
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static long ReadAll(IDataView scored)
    {
        using DataViewRowCursor cursor = scored.GetRowCursor(scored.Schema);
        var ids = cursor.GetGetter<VBuffer<ReadOnlyMemory<char>>>(scored.Schema[DefaultColumnNames.PredictedItemIds]);
        var scores = cursor.GetGetter<VBuffer<float>>(scored.Schema[DefaultColumnNames.Scores]);
        VBuffer<ReadOnlyMemory<char>> a = default;
        VBuffer<float> b = default;
        long n = 0;
        while (cursor.MoveNext())
        {
            ids(ref a);
            scores(ref b);
            n++;
        }

        return n;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }

    private static BenchResult Row(string name, string config, double usersPerSecond, double seconds) => new()
    {
        Name = name,
        Config = config,
        Threads = WorkerPool.Shared.ThreadCount,
        UsersPerSecond = Math.Round(usersPerSecond, 0),
        Seconds = Math.Round(seconds, 3),
    };
}
