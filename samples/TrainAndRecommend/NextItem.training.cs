// Model Builder's layout: training (this file), consumption and evaluation, as partial classes of one model.
using CalRec.MLNet;
using CalRec.Recommenders.SasRec;
using Microsoft.ML;

namespace TrainAndRecommend;

/// <summary>The next-item model of this sample: SASRec over the interactions table.</summary>
public static partial class NextItem
{
    /// <summary>The estimator pipeline: SASRec reading UserId/ItemId/Timestamp, recommending 5 items.</summary>
    public static IEstimator<ITransformer> BuildPipeline(MLContext mlContext, IDataView items) =>
        mlContext.SequentialRecommendation().Trainers.SasRec(new SasRecEstimatorOptions
        {
            Items = items,
            TopK = 5,
            Trainer = new SasRecTrainer.Options { Hidden = 32, MaxLength = 20, Dropout = 0.2f, LearningRate = 3e-3f, BatchSize = 64, MaxEpochs = 30, Seed = 42 },
        });

    /// <summary>Trains the pipeline on an interactions table.</summary>
    public static ITransformer RetrainPipeline(MLContext mlContext, IDataView interactions, IDataView items) =>
        BuildPipeline(mlContext, items).Fit(interactions);

    /// <summary>Saves the trained model where <see cref="Predict"/> loads it from.</summary>
    public static void SaveModel(MLContext mlContext, ITransformer model, string path) =>
        mlContext.SequentialRecommendation().SaveModel(model, mlContext.Data.LoadFromEnumerable(Array.Empty<ModelInput>()).Schema, path);
}
