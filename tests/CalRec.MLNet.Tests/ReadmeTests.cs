using Microsoft.ML;

namespace CalRec.MLNet.Tests;

/// <summary>The README's ten-line pipeline, line for line, on a smaller demo catalogue and the tiny backbone.</summary>
public sealed class ReadmeTests
{
    [Test]
    public void TheTenLinePipelineRunsAndLearns()
    {
        string path = Path.Combine(Path.GetTempPath(), $"calrec-readme-{Guid.NewGuid():N}.zip");
        try
        {
            var mlContext = new MLContext(seed: 42);
            var rec = mlContext.SequentialRecommendation();
            InteractionTables data = rec.Data.GenerateDemo(usersPerDomain: 60);
            var calrec = rec.Trainers.CalRec(items: data.Items, targetDomain: "beauty", backbone: "tiny", stage1Epochs: 1, stage2Epochs: 2);
            ITransformer model = calrec.Fit(data.Interactions);
            IDataView test = rec.Data.LeaveOneOutTestSet(data, domain: "beauty");
            double ndcg = rec.Evaluate(model.Transform(test))["ndcg@10"].Value;
            rec.SaveModel(model, test.Schema, path);
            var engine = mlContext.Model.CreatePredictionEngine<HistoryRow, RecommendationRow>(rec.LoadModel(path, out _));
            string[] next = engine.Predict(new HistoryRow { History = ["b0000", "b0001"] }).PredictedItemIds;

            double popularity = rec.Evaluate(rec.Trainers.MostPopular(new MostPopularEstimatorOptions { Items = data.Items }).Fit(data.Interactions).Transform(test))["ndcg@10"].Value;
            TestContext.Out.WriteLine($"CALRec NDCG@10 {ndcg:F4}, MostPopular {popularity:F4}");
            Assert.That(next, Has.Length.EqualTo(10).And.All.StartsWith("b").And.No.AnyOf("b0000", "b0001"));
            Assert.That(ndcg, Is.GreaterThan(popularity), "CALRec learned more than item popularity");
        }
        finally
        {
            File.Delete(path);
        }
    }
}
