// Train SASRec and MostPopular on a dataset, compare them with full-ranking metrics, save the better one as a model
// zip, load it back and recommend for one history: the ML.NET-style workflow of CalRec.MLNet.
// Usage: dotnet run --project samples/TrainAndRecommend [-- DATASET]   (default: a generated synthetic catalogue)
using CalRec.Data;
using CalRec.Data.Synthetic;
using CalRec.Recommenders;
using CalRec.Recommenders.Evaluation;
using CalRec.Recommenders.MostPopular;
using CalRec.Recommenders.SasRec;

var ctx = new RecContext(seed: 42);
ctx.Log += (_, e) => Console.WriteLine($"  [{e.Source}] {e.Message}");

InteractionDataset data = args.Length > 0
    ? ctx.Data.LoadFromPath(args[0])
    : SyntheticCatalog.Generate(new SyntheticCatalogOptions { UsersPerDomain = 300 }).ToDataset();
Console.WriteLine($"{data.Name}: {data.Users.Count:N0} users, {data.ItemCount:N0} items");

RecommenderModel popularity = ctx.Trainers.MostPopular().Fit(data);
RecommenderModel sasrec = ctx.Trainers.SasRec(hidden: 32, maxLength: 20, dropout: 0.2f, maxEpochs: 30).Fit(data);

var options = new RecommendationEvaluatorOptions { Ks = [10] };
RecommendationMetrics pop = ctx.Ranking.Evaluate(popularity, data, options);
RecommendationMetrics seq = ctx.Ranking.Evaluate(sasrec, data, options);
Console.WriteLine($"MostPopular NDCG@10 {pop["ndcg@10"]}");
Console.WriteLine($"SASRec      NDCG@10 {seq["ndcg@10"]}  (paired difference {seq.CompareNdcg(pop, 10)})");

string path = Path.Combine(Path.GetTempPath(), "calrec-sample-sasrec.zip");
ctx.Model.Save(sasrec, path);
RecommenderModel loaded = ctx.Model.Load(path);
Recommender recommender = ctx.Model.CreateRecommender(loaded);
string[] history = data.Sequences[0].Take(3).Select(i => data.Items[i].Id).ToArray();
Console.WriteLine($"after {string.Join(", ", history.Select(id => data.Items[data.IndexOf(id)!.Value].Title))}:");
foreach (ScoredItem item in recommender.Recommend(history, k: 5))
{
    Console.WriteLine($"  {item.ItemId,-8} {item.Title} ({item.Score:F3})");
}
