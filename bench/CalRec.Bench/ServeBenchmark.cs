using CalRec.MLNet;
using System.Diagnostics;
using System.Net.Http.Json;
using CalRec.Data;
using CalRec.Data.Synthetic;
using CalRec.Recommenders;
using CalRec.Recommenders.SasRec;
using CalRec.Server;
using CalRec.Tensors.Threading;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace CalRec.Bench;

/// <summary>
/// HTTP serving speed over loopback: requests/s and latency of <c>POST /recommend</c> from one client and from several
/// concurrent clients, users/s of <c>POST /recommend/batch</c>, and the in-process <see cref="RecommenderPool"/> on the
/// same histories for comparison. Default model: SASRec (d = 64, 50 items of history) fitted for one epoch on
/// amazon-beauty (12,101 items; the weights do not change the cost), or on a synthetic catalogue without ../shared.
/// </summary>
internal static class ServeBenchmark
{
    public static IEnumerable<BenchResult> Run(string? modelPath, string? dataPath, int requests, int clients)
    {
        var ml = new Microsoft.ML.MLContext(seed: 1);
        InteractionDataset? data = null;
        SequentialRecommendationTransformer transformer;
        if (modelPath is not null)
        {
            transformer = SequentialRecommendationCatalog.FindRecommender(ml.SequentialRecommendation().LoadModel(modelPath, out _))
                ?? throw new ArgumentException($"{modelPath} holds no sequential recommender.");
        }
        else
        {
            (data, transformer) = BenchModels.SasRecOneEpoch(ml, dataPath);
        }

        RecommenderModel model = transformer.Model;

        // Histories: the dataset's own (last 8 items), or 8 catalogue items in a seeded order.
        var g = new Tensors.SeededRandom(3);
        string[][] histories = Enumerable.Range(0, 512).Select(u => data is not null
            ? data.Sequences[u % data.Sequences.Count].TakeLast(8).Select(i => data.Items[i].Id).ToArray()
            : Enumerable.Range(0, 8).Select(_ => model.Catalog[g.NextInt(model.ItemCount)].Id).ToArray()).ToArray();
        string config = $"{model.Kind},items={model.ItemCount},history=8,k=10";

        // In process, the same thing the server does for a request: a pooled PredictionEngine selecting 10 items.
        var pool = new RecommendationEnginePool<HistoryRow, RecommendationRow>(ml, transformer.WithColumns(RecommendationColumns.Default with { TopK = 10 }));
        for (int i = 0; i < 64; i++)
        {
            pool.Predict(new HistoryRow { History = histories[i % histories.Length] });
        }

        var sw = Stopwatch.StartNew();
        for (int i = 0; i < requests; i++)
        {
            pool.Predict(new HistoryRow { History = histories[i % histories.Length] });
        }

        yield return Row("in-process", config + ",callers=1", requests / sw.Elapsed.TotalSeconds, sw.Elapsed.TotalSeconds);

        WebApplication app = RecommendationServer.Create(transformer, ["http://127.0.0.1:0"], minimumLogLevel: LogLevel.None);
        app.StartAsync().GetAwaiter().GetResult();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
            async Task<double> One(int i)
            {
                long start = Stopwatch.GetTimestamp();
                using HttpResponseMessage r = await http.PostAsJsonAsync("/recommend", new { history = histories[i % histories.Length], k = 10 });
                r.EnsureSuccessStatusCode();
                await r.Content.ReadAsByteArrayAsync();
                return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }

            for (int i = 0; i < 64; i++)
            {
                One(i).GetAwaiter().GetResult();
            }

            var latencies = new double[requests];
            sw.Restart();
            for (int i = 0; i < requests; i++)
            {
                latencies[i] = One(i).GetAwaiter().GetResult();
            }

            double seconds = sw.Elapsed.TotalSeconds;
            yield return WithLatencies(Row("http-recommend", config + ",clients=1", requests / seconds, seconds), latencies);

            sw.Restart();
            Task.WhenAll(Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
            {
                for (int i = c; i < requests; i += clients)
                {
                    latencies[i] = await One(i);
                }
            }))).GetAwaiter().GetResult();
            seconds = sw.Elapsed.TotalSeconds;
            yield return WithLatencies(Row("http-recommend", config + $",clients={clients}", requests / seconds, seconds), latencies);

            const int BatchUsers = 256;
            int batches = Math.Max(1, requests / BatchUsers);
            var body = new { users = histories.Take(BatchUsers).Select((h, u) => new { user = $"u{u}", history = h }).ToArray(), k = 10 };
            sw.Restart();
            for (int b = 0; b < batches; b++)
            {
                using HttpResponseMessage r = http.PostAsJsonAsync("/recommend/batch", body).GetAwaiter().GetResult();
                r.EnsureSuccessStatusCode();
                r.Content.ReadAsByteArrayAsync().GetAwaiter().GetResult();
            }

            seconds = sw.Elapsed.TotalSeconds;
            yield return new BenchResult
            {
                Name = "http-batch",
                Config = config + $",users/request={BatchUsers}",
                Threads = WorkerPool.Shared.ThreadCount,
                UsersPerSecond = Math.Round(batches * BatchUsers / seconds, 0),
                Seconds = Math.Round(seconds, 3),
            };
        }
        finally
        {
            app.StopAsync().GetAwaiter().GetResult();
            app.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private static BenchResult Row(string name, string config, double perSecond, double seconds) => new()
    {
        Name = name,
        Config = config,
        Threads = WorkerPool.Shared.ThreadCount,
        QueriesPerSecond = Math.Round(perSecond, 0),
        Seconds = Math.Round(seconds, 3),
    };

    // p50 and p99 of the requests' latencies (milliseconds, from send to the last byte of the response).
    private static BenchResult WithLatencies(BenchResult row, double[] latencies)
    {
        double[] sorted = [.. latencies.Order()];
        return row with
        {
            LatencyP50Ms = Math.Round(sorted[sorted.Length / 2], 2),
            LatencyP99Ms = Math.Round(sorted[Math.Min(sorted.Length - 1, (int)(sorted.Length * 0.99))], 2),
        };
    }
}
