// Train, evaluate, save and consume a next-item model with ML.NET, in Model Builder's layout: NextItem.training.cs
// (the pipeline), NextItem.evaluate.cs (metrics on held-out items), NextItem.consumption.cs (ModelInput/ModelOutput and a
// PredictionEngine over the saved model). Usage: dotnet run --project samples/TrainAndRecommend
using CalRec.MLNet;
using Microsoft.ML;
using TrainAndRecommend;

var mlContext = new MLContext(seed: 42);
InteractionTables demo = mlContext.SequentialRecommendation().Data.GenerateDemo(usersPerDomain: 300);

ITransformer model = NextItem.RetrainPipeline(mlContext, demo.Interactions, demo.Items);
var (sasrec, popularity) = NextItem.Evaluate(mlContext, model, demo.Interactions, demo.Items);
Console.WriteLine($"SASRec      NDCG@5 {sasrec["ndcg@5"]}");
Console.WriteLine($"MostPopular NDCG@5 {popularity["ndcg@5"]}");

NextItem.SaveModel(mlContext, model, NextItem.ModelPath);
var input = new ModelInput { UserId = "someone", History = ["b0000", "b0001"] };
ModelOutput output = NextItem.Predict(input);
Console.WriteLine($"after [{string.Join(", ", input.History)}]: {string.Join(", ", output.PredictedItemIds.Zip(output.Scores, (id, s) => $"{id} ({s:F2})"))}");
