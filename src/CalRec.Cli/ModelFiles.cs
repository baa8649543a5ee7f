using CalRec.MLNet;
using CalRec.MLNet.Tables;
using CalRec.Recommenders;
using CalRec.Recommenders.Persistence;
using Microsoft.ML;

namespace CalRec.Cli;

/// <summary>
/// The command line's model files: ML.NET model zips written by <c>mlContext.SequentialRecommendation().SaveModel</c>
/// (a recommender whose input is a history table), read with <c>LoadModel</c> (which also reads the library's earlier
/// archive format).
/// </summary>
internal static class ModelFiles
{
    internal static MLContext MLContext { get; } = new();

    /// <summary>The schema of the history tables a saved recommender reads.</summary>
    internal static DataViewSchema HistorySchema { get; } = MLContext.Data.LoadFromEnumerable(Array.Empty<HistoryRow>()).Schema;

    internal static void Save(RecommenderModel model, string path) =>
        MLContext.SequentialRecommendation().SaveModel(MLContext.SequentialRecommendation().CreateTransformer(model), HistorySchema, path);

    /// <summary>The whole saved pipeline.</summary>
    internal static ITransformer LoadPipeline(string path) => MLContext.SequentialRecommendation().LoadModel(path, out _);

    /// <summary>The recommender of a saved model (the last one when the pipeline holds several).</summary>
    internal static SequentialRecommendationTransformer LoadRecommender(string path) =>
        SequentialRecommendationCatalog.FindRecommender(LoadPipeline(path)) ?? throw new ModelFormatException(path, "an ML.NET model without a sequential recommender in it");

    internal static RecommenderModel Load(string path) => LoadRecommender(path).Model;
}
