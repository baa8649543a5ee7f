using CalRec.Data;
using CalRec.Data.Splits;
using CalRec.Recommenders;
using CalRec.Recommenders.Evaluation;
using Microsoft.ML;

namespace CalRec.MLNet.Tests;

/// <summary>A published row of docs/results.md reproduced through the ML.NET API on the real dataset.</summary>
public sealed class PublishedResultsTests
{
    [Test]
    public void MostPopularOnAmazonBeautyThroughMLNetReproducesTheResultsTable()
    {
        string folder = Path.Combine(TestContext.CurrentContext.TestDirectory, "../../../../../../shared/data/amazon-beauty");
        if (!Directory.Exists(folder))
        {
            Assert.Ignore($"../shared/data/amazon-beauty is not here ({Path.GetFullPath(folder)}).");
        }

        var ml = new MLContext(seed: 1);
        InteractionDataset beauty = new RecContext().Data.LoadFromPath(folder);
        InteractionTables tables = ml.SequentialRecommendation().Data.FromDatasets([beauty]);
        var options = new MostPopularEstimatorOptions { Items = tables.Items, TopK = 20 };
        SequentialRecommendationTransformer model = ml.SequentialRecommendation().Trainers.MostPopular(options).Fit(tables.Interactions);
        IDataView test = ml.SequentialRecommendation().Data.LeaveOneOutTestSet(tables);
        RecommendationMetrics viaMLNet = ml.SequentialRecommendation().Evaluate(model.Transform(test), ks: [10, 20], catalogSize: beauty.ItemCount);
        var split = new LeaveOneOutSplit(beauty);
        RecommendationMetrics library = RecommendationEvaluator.Evaluate(model.Model, split.Test, new RecommendationEvaluatorOptions { Ks = [10, 20] });

        Assert.That(viaMLNet.Users, Is.EqualTo(22_363));
        Assert.That(viaMLNet["ndcg@10"], Is.EqualTo(library["ndcg@10"]));
        Assert.That(viaMLNet["hr@20"], Is.EqualTo(library["hr@20"]));
        // docs/results.md, amazon-beauty, MostPopular: NDCG@10 0.0055 [0.0047, 0.0062], HR@10 0.0115 [0.0100, 0.0131].
        Assert.That(viaMLNet["ndcg@10"].ToString(), Is.EqualTo("0.0055 [0.0047, 0.0062]"));
        Assert.That(viaMLNet["hr@10"].ToString(), Is.EqualTo("0.0115 [0.0100, 0.0131]"));
    }
}
