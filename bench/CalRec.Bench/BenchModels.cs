using CalRec.Data;
using CalRec.MLNet;
using CalRec.Recommenders.SasRec;
using Microsoft.ML;

namespace CalRec.Bench;

/// <summary>
/// The model the scoring and serving benchmarks measure: SASRec (d = 64, 50 items of history) fitted through ML.NET for
/// one epoch on amazon-beauty (the weights do not change the cost), or on a synthetic catalogue without ../shared.
/// </summary>
internal static class BenchModels
{
    public static (InteractionDataset Data, SequentialRecommendationTransformer Model) SasRecOneEpoch(MLContext ml, string? dataPath)
    {
        InteractionDataset data = BenchData.Load(dataPath, "amazon-beauty", 1).Data;
        InteractionTables tables = ml.SequentialRecommendation().Data.FromDatasets([data]);
        var options = new SasRecEstimatorOptions { Items = tables.Items, Trainer = new SasRecTrainer.Options { MaxEpochs = 1, MinEpochs = 0 } };
        return (data, ml.SequentialRecommendation().Trainers.SasRec(options).Fit(tables.Interactions));
    }
}
