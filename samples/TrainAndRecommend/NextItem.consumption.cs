using CalRec.MLNet;
using Microsoft.ML;

namespace TrainAndRecommend;

/// <summary>The model's input: one user's history, oldest first.</summary>
public sealed class ModelInput
{
    /// <summary>The user.</summary>
    public string UserId { get; set; } = "";

    /// <summary>Item ids, oldest first.</summary>
    public string[] History { get; set; } = [];
}

/// <summary>The model's output: the recommended items, best first.</summary>
public sealed class ModelOutput
{
    /// <summary>Recommended item ids.</summary>
    public string[] PredictedItemIds { get; set; } = [];

    /// <summary>Their scores.</summary>
    public float[] Scores { get; set; } = [];
}

public static partial class NextItem
{
    /// <summary>Where the trained model is saved and loaded from.</summary>
    public static string ModelPath { get; } = Path.Combine(Path.GetTempPath(), "calrec-sample-next-item.zip");

    private static readonly Lazy<PredictionEngine<ModelInput, ModelOutput>> PredictEngine = new(CreatePredictEngine, isThreadSafe: true);

    /// <summary>Recommends the next items for one history (loads the saved model on first use).</summary>
    public static ModelOutput Predict(ModelInput input) => PredictEngine.Value.Predict(input);

    private static PredictionEngine<ModelInput, ModelOutput> CreatePredictEngine()
    {
        var mlContext = new MLContext();
        ITransformer model = mlContext.SequentialRecommendation().LoadModel(ModelPath, out _);
        return mlContext.Model.CreatePredictionEngine<ModelInput, ModelOutput>(model);
    }
}
