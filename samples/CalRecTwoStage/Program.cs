// CALRec end to end with the library API: a backbone trained from scratch on the catalogue text (stage 0), finetuned on
// a mixture of domains (stage 1) and then on the target domain (stage 2) with the LM loss plus the two contrastive
// losses, evaluated with full ranking against MostPopular, saved as one model zip and served from it.
// Usage: dotnet run --project samples/CalRecTwoStage -c Release   (a generated three-domain catalogue; about 2 minutes)
using CalRec.Data;
using CalRec.Data.Synthetic;
using CalRec.Models.Embeddings;
using CalRec.Recommenders;
using CalRec.Recommenders.CalRec;
using CalRec.Recommenders.Evaluation;
using CalRec.Recommenders.MostPopular;

var ctx = new RecContext(seed: 42);
ctx.Log += (_, e) => Console.WriteLine($"  [{e.Source}] {e.Message}");

InteractionDataset all = SyntheticCatalog.Generate(new SyntheticCatalogOptions { UsersPerDomain = 400 }).ToDataset();
InteractionDataset target = all.ForDomain("office");
List<InteractionDataset> mixture = all.Domains.Select(all.ForDomain).ToList();

var options = new CalRecTrainer.Options
{
    Backbone = "mini",
    Template = "title: {title}; brand: {brand}; category: {category}",
    Pooling = Pooling.LastToken,
    Temperature = 0.05f,
    LmWeight = 1f,
    ItemItemWeight = 1f,
    UserItemWeight = 1f,
    PretrainSteps = 150,
    Stage1 = new CalRecStageOptions { Epochs = 1, LearningRate = 1e-3f },
    Stage2 = new CalRecStageOptions { Epochs = 2, LearningRate = 1e-3f },
    MixtureSampling = MixtureSampling.Temperature,
    MixtureTemperature = 2f,
    MaxHistory = 8,
    Seed = 42,
};
CalRecTrainer trainer = ctx.Trainers.CalRec(options);
trainer.Progress += (_, p) =>
{
    if (p.ValidationNdcg10 is double v)
    {
        Console.WriteLine($"  {p.Phase} epoch {p.Epoch}: validation NDCG@10 {v:F4}");
    }
};
CalRecModel model = trainer.Fit(target, mixture);

var metrics = new RecommendationEvaluatorOptions { Ks = [10] };
RecommendationMetrics calrec = ctx.Ranking.Evaluate(model, target, metrics);
RecommendationMetrics pop = ctx.Ranking.Evaluate(ctx.Trainers.MostPopular().Fit(target), target, metrics);
Console.WriteLine($"CALRec      NDCG@10 {calrec["ndcg@10"]}");
Console.WriteLine($"MostPopular NDCG@10 {pop["ndcg@10"]}");

string path = Path.Combine(Path.GetTempPath(), "calrec-sample-two-stage.zip");
ctx.Model.Save(model, path);
Recommender recommender = ctx.Model.CreateRecommender(ctx.Model.Load(path));
string[] history = target.Sequences[0].Take(3).Select(i => target.Items[i].Id).ToArray();
Console.WriteLine($"after {string.Join(", ", history.Select(id => target.Items[target.IndexOf(id)!.Value].Title))}:");
foreach (ScoredItem item in recommender.Recommend(history, k: 5))
{
    Console.WriteLine($"  {item.ItemId,-8} {item.Title} ({item.Score:F3})");
}
